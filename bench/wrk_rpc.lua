-- wrk script for bench/api_bench.py: POSTs one XenAPI call per request
-- over wrk's keep-alive connections.
--
--   wrk -t1 -c1 -d10s --latency -s wrk_rpc.lua http://127.0.0.1:18480 -- \
--       PROTO METHOD SESSION REFS_FILE
--
-- PROTO: json (POST /jsonrpc, JSON-RPC 2.0) or xml (POST /, XML-RPC).
-- METHOD: VM.get_record (a random ref from REFS_FILE, one per line) or
-- VM.get_all_records. Every response body is checked for success
-- (JSON "result" / XML-RPC Status Success); failures are counted and
-- reported. done() prints one "RESULT key=value ..." line.

local proto, method, session, refs_file
local refs = {}
bad, good = 0, 0 -- globals: done() reads them with thread:get
local threads = {}

local function xml_body(m, params)
  local p = {}
  for i, v in ipairs(params) do
    p[i] = "<param><value><string>" .. v .. "</string></value></param>"
  end
  return '<?xml version="1.0"?><methodCall><methodName>' .. m ..
    "</methodName><params>" .. table.concat(p) .. "</params></methodCall>"
end

local function json_body(m, params)
  local p = {}
  for i, v in ipairs(params) do p[i] = '"' .. v .. '"' end
  return '{"jsonrpc":"2.0","method":"' .. m .. '","params":[' .. table.concat(p, ",") .. '],"id":1}'
end

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local path, headers, mkbody, fixed

function init(args)
  proto, method, session, refs_file = args[1], args[2], args[3], args[4]
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  if proto == "json" then
    path, mkbody = "/jsonrpc", json_body
    headers = {["Content-Type"] = "application/json"}
  else
    path, mkbody = "/", xml_body
    headers = {["Content-Type"] = "text/xml"}
  end
  if method == "VM.get_record" then
    -- one ready-made request per VM, so request() costs the client little
    for line in io.lines(refs_file) do
      if #line > 0 then
        refs[#refs + 1] = wrk.format("POST", path, headers, mkbody(method, {session, line}))
      end
    end
  else
    fixed = wrk.format("POST", path, headers, mkbody(method, {session}))
  end
end

function request()
  if fixed then return fixed end
  return refs[math.random(#refs)]
end

function response(status, hdrs, body)
  local ok
  if status ~= 200 then
    ok = false
  elseif proto == "json" then
    ok = body:find('"result":', 1, true) ~= nil and body:find('"error":', 1, true) == nil
  else
    ok = body:find("<value>Success</value>", 1, true) ~= nil
  end
  if ok then good = good + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do
    g = g + (t:get("good") or 0)
    b = b + (t:get("bad") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT calls=%d seconds=%.2f calls_per_s=%.1f p50_us=%d p90_us=%d p99_us=%d " ..
    "max_us=%d ok=%d bad=%d sock_errors=%d timeouts=%d bytes=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    g, b, e.connect + e.read + e.write, e.timeout, summary.bytes))
end
