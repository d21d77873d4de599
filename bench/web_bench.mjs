// 8. The web console (bench/README.md §8): first load to interactive on
// loopback, cold and warm cache, and the bytes of the first view, from
// xenond and from nginx serving the same files (nginx passes /jsonrpc on
// to the same xenond), interleaved in one run; then the VM list with
// BENCH_NVMS sim VMs: time to render, to apply a burst of 1,000 events,
// and frame times while scrolling.
//
//   node bench/web_bench.mjs           (XENOND, BENCH_NVMS=10000, BENCH_RUNS=15)
//
// Needs Debian's chromium and nginx (scripts/deps.sh bench), web/'s
// node_modules (the build's npm ci) and a built xenond (default
// build-bench/src/server/xenond, the release build of run_all.sh), whose
// web output (build-bench/web/ui) both servers serve. Traffic stays on
// 127.0.0.1; every step has a time limit.
import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { tmpdir, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import net from "node:net";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "web", "package.json"));
const { chromium } = require("playwright-core");
const XENOND = resolve(process.env.XENOND || join(root, "build-bench/src/server/xenond"));
const WEB = resolve(dirname(XENOND), "../../web/ui");
const NVMS = Number(process.env.BENCH_NVMS || 10000);
const RUNS = Number(process.env.BENCH_RUNS || 15);
const PORT = Number(process.env.BENCH_PORT || 18480) + 20;
const NGINX_PORT = PORT + 1;
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));

async function waitPort(port, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), res(true)));
      s.on("error", () => res(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error("nothing listens on " + port);
}

// ---- xenond ----
const data = mkdtempSync(join(tmpdir(), "xenon-web-bench-"));
const pwFile = join(data, "root-password");
const xd = spawn(XENOND, ["--data-dir", data, "--listen", "127.0.0.1:" + PORT, "--tls-listen", "", "--root-password-file", pwFile, "--backend", "sim"], {
  stdio: ["ignore", "ignore", "ignore"],
});
children.push(xd);
await waitPort(PORT);
await sleep(300);
const password = readFileSync(pwFile, "utf8").split("\n").map((l) => l.trim()).filter(Boolean).pop();
const base = "http://127.0.0.1:" + PORT;
let id = 1;
async function rpc(method, params) {
  const r = await fetch(base + "/jsonrpc", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", method, params, id: id++ }) });
  const j = await r.json();
  if (j.error) throw new Error(j.error.message + " " + JSON.stringify(j.error.data));
  return j.result;
}
const session = await rpc("session.login_with_password", ["root", password, "1.0", "web-bench"]);
const api = (m, ...a) => rpc(m, [session, ...a]);

// ---- nginx: the same directory, the same headers, /jsonrpc passed on ----
const ngDir = mkdtempSync(join(tmpdir(), "xenon-web-bench-nginx-"));
const hasBrotli = existsSync("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so");
const csp = (await fetch(base + "/")).headers.get("content-security-policy");
const common = `add_header Content-Security-Policy "${csp}" always; add_header X-Content-Type-Options nosniff always; add_header Referrer-Policy no-referrer always; add_header Cross-Origin-Opener-Policy same-origin always;`;
writeFileSync(
  join(ngDir, "nginx.conf"),
  `${hasBrotli ? "load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;" : ""}
worker_processes 2;
daemon off;
pid ${ngDir}/nginx.pid;
error_log ${ngDir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path ${ngDir}/body; proxy_temp_path ${ngDir}/proxy; fastcgi_temp_path ${ngDir}/fastcgi;
    uwsgi_temp_path ${ngDir}/uwsgi; scgi_temp_path ${ngDir}/scgi;
    sendfile on; tcp_nopush on; keepalive_timeout 75s;
    gzip_static on; ${hasBrotli ? "brotli_static on;" : ""}
    server {
        listen 127.0.0.1:${NGINX_PORT};
        root ${WEB};
        location = / { try_files /index.html =404; add_header Cache-Control no-cache; ${common} }
        location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; ${common} }
        location /jsonrpc { proxy_pass ${base}; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_read_timeout 120s; }
        location /rrd_updates { proxy_pass ${base}; }
    }
}
`,
);
const ng = spawn("/usr/sbin/nginx", ["-p", ngDir, "-c", join(ngDir, "nginx.conf"), "-e", join(ngDir, "error.log")], { stdio: "ignore" });
children.push(ng);
await waitPort(NGINX_PORT);

const browser = await chromium.launch({
  executablePath: process.env.XENON_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

// One load: from goto to the login form ready for typing (interactive);
// then log in and wait for the dashboard's live data.
async function load(ctx, url) {
  const page = await ctx.newPage();
  let bytes = 0;
  const pending = [];
  page.on("requestfinished", (r) => {
    if (!/\/(assets\/|$)/.test(new URL(r.url()).pathname)) return;
    pending.push(r.sizes().then((s) => (bytes += s.responseBodySize + s.responseHeadersSize)));
  });
  const t0 = performance.now();
  await page.goto(url + "/", { waitUntil: "commit" });
  await page.locator('input[name="password"]:enabled').waitFor({ timeout: 10000 });
  const interactive = performance.now() - t0;
  await Promise.all(pending);
  const firstBytes = bytes;
  const t1 = performance.now();
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  await page.locator(".conn.on").waitFor({ timeout: 20000 });
  await page.locator("#card-hosts .mem-value").waitFor({ timeout: 10000 });
  const dashboard = performance.now() - t1;
  await page.evaluate(() => sessionStorage.clear());
  await page.close();
  return { interactive, dashboard, bytes: firstBytes };
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (a) => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}`;

log(`first load: ${RUNS} cold and ${RUNS} warm loads each from xenond (:${PORT}) and nginx (:${NGINX_PORT}, brotli_static ${hasBrotli ? "on" : "not installed"})`);
const servers = { xenond: base, nginx: "http://127.0.0.1:" + NGINX_PORT };
const res = {};
for (const k of Object.keys(servers)) res[k] = { cold: [], warm: [], coldDash: [], warmDash: [], coldBytes: [], warmBytes: [] };
const warmCtx = {};
for (const [k, u] of Object.entries(servers)) {
  warmCtx[k] = await browser.newContext();
  await load(warmCtx[k], u); // fills its cache
}
for (let i = 0; i < RUNS; i++) {
  for (const [k, u] of i % 2 ? Object.entries(servers).reverse() : Object.entries(servers)) {
    const ctx = await browser.newContext(); // an empty cache
    const c = await load(ctx, u);
    await ctx.close();
    const w = await load(warmCtx[k], u);
    res[k].cold.push(c.interactive);
    res[k].coldDash.push(c.dashboard);
    res[k].coldBytes.push(c.bytes);
    res[k].warm.push(w.interactive);
    res[k].warmDash.push(w.dashboard);
    res[k].warmBytes.push(w.bytes);
  }
}
const out = [];
out.push(`load average at start ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${RUNS} loads each, interleaved; median (range) in ms`);
out.push("");
out.push("| server | cold: login page interactive | warm | bytes of the first view, cold | warm | cold: log in to live dashboard | warm |");
out.push("|---|---|---|---|---|---|---|");
for (const k of Object.keys(servers)) {
  const r = res[k];
  out.push(`| ${k} | ${median(r.cold).toFixed(0)} (${range(r.cold)}) | ${median(r.warm).toFixed(0)} (${range(r.warm)}) | ${median(r.coldBytes)} | ${median(r.warmBytes)} | ${median(r.coldDash).toFixed(0)} (${range(r.coldDash)}) | ${median(r.warmDash).toFixed(0)} (${range(r.warmDash)}) |`);
}
const ratio = (a, b) => (median(res.xenond[a]) / median(res.nginx[a])).toFixed(2);
out.push(`| xenond/nginx | ${ratio("cold")}× | ${ratio("warm")}× | | | ${ratio("coldDash")}× | ${ratio("warmDash")}× |`);
for (const c of Object.values(warmCtx)) await c.close();

// ---- the VM list with NVMS VMs ----
if (NVMS > 0) {
  log(`populating ${NVMS} sim VMs`);
  const tpl = (await api("VM.get_by_name_label", "Other install media"))[0];
  const made = [];
  let next = 0;
  const t = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < NVMS) {
        const i = next++;
        const vm = await api("VM.clone", tpl, "bench-vm-" + String(i).padStart(5, "0"));
        await api("VM.set_is_a_template", vm, false);
        made.push(vm);
      }
    }),
  );
  log(`populated in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(base + "/");
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  await page.locator(".conn.on").waitFor({ timeout: 60000 });
  const t0 = performance.now();
  await page.goto(base + "/#/vms");
  await page.waitForFunction((n) => Number(document.querySelector("#vm-count")?.textContent) >= n, NVMS, { timeout: 60000, polling: "raf" });
  const render = performance.now() - t0;
  const rows = await page.locator(".vmlist tbody tr").count();
  // a filter: the VMs whose name has "bench-vm-001" (100 of them)
  const t2 = performance.now();
  await page.fill('input[type="search"]', "bench-vm-001");
  await page.waitForFunction((n) => { const c = Number(document.querySelector("#vm-count")?.textContent); return c > 0 && c < n; }, NVMS, { timeout: 20000, polling: "raf" });
  const filterMs = performance.now() - t2;
  await page.fill('input[type="search"]', "");
  await page.waitForFunction((n) => Number(document.querySelector("#vm-count")?.textContent) >= n, NVMS, { timeout: 20000, polling: "raf" });
  // a burst of 1,000 renames from another client, 8 at a time; the page
  // filters on the new names and is done when it counts 1,000
  const BURST = Math.min(1000, made.length);
  await page.fill('input[type="search"]', "burst-");
  const t3 = performance.now();
  next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < BURST) {
        const i = next++;
        await api("VM.set_name_label", made[i], "burst-" + i);
      }
    }),
  );
  const sent = performance.now() - t3;
  await page.waitForFunction((n) => Number(document.querySelector("#vm-count")?.textContent) === n, BURST, { timeout: 60000, polling: "raf" });
  const burst = performance.now() - t3;
  await page.fill('input[type="search"]', "");
  await page.waitForFunction((n) => Number(document.querySelector("#vm-count")?.textContent) >= n, NVMS, { timeout: 20000, polling: "raf" });
  // scrolling: 3 s at 300 px a frame, frame-to-frame times
  const frames = await page.evaluate(async () => {
    const el = document.querySelector(".vmlist .scroller");
    const times = [];
    let last = performance.now();
    const end = last + 3000;
    await new Promise((done) => {
      const f = (now) => {
        times.push(now - last);
        last = now;
        el.scrollTop += 300;
        if (now < end) requestAnimationFrame(f);
        else done();
      };
      requestAnimationFrame(f);
    });
    return times.slice(1);
  });
  frames.sort((a, b) => a - b);
  const p = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))].toFixed(1);
  out.push("");
  out.push(`VM list, ${NVMS} VMs (xenond, sim backend):`);
  out.push("");
  out.push("| what | time |");
  out.push("|---|---|");
  out.push(`| open the list until it counts ${NVMS} (store already loaded) | ${render.toFixed(0)} ms (${rows} table rows in the DOM) |`);
  out.push(`| type a filter ("bench-vm-001", 100 match) until the count shows | ${filterMs.toFixed(0)} ms |`);
  out.push(`| ${BURST} VM.set_name_label from another client (8 at a time) until the page shows all ${BURST} | ${burst.toFixed(0)} ms (the calls themselves took ${sent.toFixed(0)} ms) |`);
  out.push(`| scrolling 3 s, 300 px per frame: frame time p50 / p95 / max | ${p(0.5)} / ${p(0.95)} / ${frames[frames.length - 1].toFixed(1)} ms over ${frames.length} frames |`);
  await ctx.close();
}
await browser.close();
console.log(out.join("\n"));
ng.kill("SIGTERM");
xd.kill("SIGTERM");
await sleep(300);
rmSync(ngDir, { recursive: true, force: true });
rmSync(data, { recursive: true, force: true });
process.exit(0);
