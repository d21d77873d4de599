// Browser steps of tests/integration/test_web.py, which starts xenond,
// makes the VMs and hands this driver XENON_WEB_TEST (JSON). One JSON line
// per step on stdout; a failing step leaves <shots>/<step>.png.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";

const conf = JSON.parse(process.env.XENON_WEB_TEST);
const require = createRequire(join(conf.playwright, "package.json"));
const { chromium } = require(conf.playwright);

const url = conf.url;
let failed = false;
const cspViolations = [];

let rpcId = 1;
async function rpc(method, params) {
  const r = await fetch(url + "/jsonrpc", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method, params, id: rpcId++ }),
  });
  const j = await r.json();
  if (j.error) throw new Error(`${j.error.message} ${JSON.stringify(j.error.data)}`);
  return j.result;
}
const session = await rpc("session.login_with_password", ["root", conf.password, "1.0", "web-test"]);
const api = (m, ...a) => rpc(m, [session, ...a]);
const xe = (...args) => execFileSync(conf.xe[0], [...conf.xe.slice(1), ...args], { encoding: "utf8" }).trim();

async function until(what, f, ms = 10000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, every));
  }
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath: conf.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let page;
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    // XENON_WEB_SHOTS=all keeps a screenshot of every step, for a look
    if (process.env.XENON_WEB_SHOTS === "all") await page.screenshot({ path: join(conf.shots, "ok-" + name.replace(/[^a-z0-9]+/gi, "-") + ".png"), fullPage: true });
    console.log(JSON.stringify({ step: name, ok: true, secs: (Date.now() - t) / 1000 }));
  } catch (e) {
    failed = true;
    const shot = join(conf.shots, name.replace(/[^a-z0-9]+/gi, "-") + ".png");
    await page?.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(JSON.stringify({ step: name, ok: false, secs: (Date.now() - t) / 1000, error: String(e?.message || e).slice(0, 600), screenshot: shot }));
  }
}

async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  p.on("dialog", (d) => d.accept());
  p.on("pageerror", (e) => console.error("page error:", e.message));
  p.on("console", (m) => {
    if (m.type() !== "error" || /status of [45]\d\d/.test(m.text())) return;
    console.error("console:", m.text());
    if (/Content Security Policy/.test(m.text())) cspViolations.push(m.text());
  });
  p.on("response", (r) => r.status() >= 400 && console.error("HTTP", r.status(), r.url().replace(/session_id=[^&]*/, "session_id=…")));
  return p;
}

async function login(p, user, pw) {
  await p.goto(url + "/");
  await p.getByLabel("User name").fill(user);
  await p.getByLabel("Password").fill(pw);
  await p.getByRole("button", { name: "Log in" }).click();
}
const text = (sel) => page.locator(sel).first().textContent({ timeout: 5000 });
const waitText = (sel, want, ms = 10000) =>
  page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout: ms, polling: "raf" });

page = await newPage();

await step("wrong password", async () => {
  await login(page, "root", "not-" + conf.password);
  const err = page.locator('.error[data-code="SESSION_AUTHENTICATION_FAILED"]');
  await err.waitFor({ timeout: 10000 });
  check((await page.locator(".shell").count()) === 0, "logged in with a wrong password");
});

await step("login", async () => {
  await login(page, "root", conf.password);
  await page.locator(".conn.on").waitFor({ timeout: 10000 });
});

await step("keyboard focus", async () => {
  // the first Tab lands on the skip link, drawn with a visible outline
  await page.locator("body").press("Tab").catch(() => page.keyboard.press("Tab"));
  const f = await page.evaluate(() => {
    const a = document.activeElement;
    const st = a && getComputedStyle(a);
    return { cls: a?.className, outline: st?.outlineStyle, width: st?.outlineWidth };
  });
  check(f.cls === "skip" && f.outline !== "none" && f.width !== "0px", "focus: " + JSON.stringify(f));
  const before = await page.evaluate(() => location.hash);
  await page.keyboard.press("Enter");
  check(await page.evaluate(() => document.activeElement?.id === "main"), "the skip link does not reach the content");
  check((await page.evaluate(() => location.hash)) === before, "the skip link changed the page");
});

await step("tree and dashboard", async () => {
  const tree = page.locator("nav.tree .label");
  await tree.getByText(conf.host, { exact: true }).first().waitFor({ timeout: 5000 });
  for (const n of conf.vms) await tree.getByText(n, { exact: true }).waitFor({ timeout: 5000 });
  await page.locator("#card-hosts").getByText(conf.host).first().waitFor({ timeout: 5000 });
  const vms = Object.values(await api("VM.get_all_records")).filter((v) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot);
  const running = vms.filter((v) => v.power_state === "Running").length;
  check((await text("#vms-running")) === String(running), `running VMs: page ${await text("#vms-running")}, API ${running}`);
  // memory used (from the host's metrics, read every 5 s) of its total, in binary units
  await page.waitForFunction(() => /^\d[\d.]* [KMGT]iB of \d[\d.]* [KMGT]iB$/.test(document.querySelector("#card-hosts .mem-value")?.textContent || ""), null, { timeout: 15000, polling: 250 });
});

await step("alarm on the dashboard", async () => {
  const pool = (await api("pool.get_all"))[0];
  await api("message.create", "WEB_TEST_ALARM", 2, "Pool", await api("pool.get_uuid", pool), "a message for the alarms card");
  await page.locator("#card-alarms").getByText("WEB_TEST_ALARM").waitFor({ timeout: 1000 });
});

await step("xe change is live", async () => {
  await page.goto(url + "/#/vm/" + encodeURIComponent(conf.vm1));
  await waitText("#vm-name", "web-vm-1");
  const uuid = await api("VM.get_uuid", conf.vm1);
  xe("vm-param-set", "uuid=" + uuid, "name-label=web-vm-1-renamed");
  const t = Date.now();
  await waitText("#vm-name", "web-vm-1-renamed", 1000);
  console.error(`xe change shown after ${Date.now() - t} ms`);
});

await step("snapshot and revert", async () => {
  await page.getByLabel("Snapshot name").fill("snap-a");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.locator('li.snapshot[data-name="snap-a"]').waitFor({ timeout: 15000 });
  const snaps = await api("VM.get_snapshots", conf.vm1);
  check(snaps.length === 1, "snapshots: " + snaps.length);
  // change the VM after the snapshot; reverting brings it back
  await api("VM.set_name_description", conf.vm1, "changed after snap-a");
  await api("VM.set_memory_limits", conf.vm1, 128 << 20, 192 << 20, 192 << 20, 192 << 20);
  await page.getByRole("button", { name: "Revert to snap-a" }).click();
  await until("the revert", async () => Number(await api("VM.get_memory_static_max", conf.vm1)) === 128 << 20, 15000);
  await page.getByRole("button", { name: "Delete snap-a" }).click();
  await page.locator('li.snapshot[data-name="snap-a"]').waitFor({ state: "detached", timeout: 15000 });
  check((await api("VM.get_snapshots", conf.vm1)).length === 0, "the snapshot is still there");
});

await step("vm copy", async () => {
  const name = (await api("VM.get_name_label", conf.vm1)) + " (copy)";
  await page.getByRole("toolbar", { name: "VM actions" }).getByRole("button", { name: "Copy", exact: true }).click();
  const copies = await until("the copy", async () => {
    const l = await api("VM.get_by_name_label", name);
    return l.length ? l : null;
  }, 20000);
  check(copies.length === 1 && copies[0] !== conf.vm1, "copies: " + copies.length);
  // and delete it from its own page
  await page.goto(url + "/#/vm/" + encodeURIComponent(copies[0]));
  await waitText("#vm-name", name);
  await page.getByRole("toolbar", { name: "VM actions" }).getByRole("button", { name: "Delete", exact: true }).click();
  await until("the delete", async () => (await api("VM.get_by_name_label", name)).length === 0, 15000);
  await page.locator("h1").filter({ hasText: "VMs" }).waitFor({ timeout: 5000 });
});

await step("storage create and rescan", async () => {
  await page.goto(url + "/#/srs");
  await page.getByLabel("Type").selectOption("iso");
  await page.getByLabel("Storage name").fill("web-isos");
  await page.getByLabel(/^Location/).fill(conf.isodir);
  await page.getByRole("button", { name: "Create storage" }).click();
  await page.getByRole("status").filter({ hasText: "Created" }).getByRole("link", { name: "web-isos" }).click();
  await page.locator('tr[data-name="tiny.iso"]').waitFor({ timeout: 10000 });
  writeFileSync(join(conf.isodir, "second.iso"), Buffer.alloc(1 << 20, 1));
  check((await page.locator('tr[data-name="second.iso"]').count()) === 0, "second.iso before the rescan");
  await page.getByRole("button", { name: "Rescan" }).click();
  await page.locator('tr[data-name="second.iso"]').waitFor({ timeout: 15000 });
  await page.locator('nav.tree .label, nav.tree a').getByText("web-isos", { exact: true }).first().waitFor({ timeout: 5000 });
});

await step("network create", async () => {
  await page.goto(url + "/#/networks");
  await page.getByLabel("Network name").fill("web-net");
  await page.getByLabel("MTU").fill("9000");
  await page.getByRole("button", { name: "Create network" }).click();
  await page.locator("nav.tree a").getByText("web-net", { exact: true }).waitFor({ timeout: 10000 });
  const nets = await api("network.get_by_name_label", "web-net");
  check(nets.length === 1, "networks named web-net: " + nets.length);
  check(Number(await api("network.get_MTU", nets[0])) === 9000, "MTU");
});

await step("vif controls", async () => {
  // locking mode with allowed addresses and a rate limit on vm1's NIC
  await page.goto(url + "/#/vm/" + encodeURIComponent(conf.vm1));
  await page.locator('tr[data-vif="0"]').waitFor({ timeout: 5000 });
  const form = page.getByRole("form", { name: "Controls of NIC 0" });
  await form.getByLabel("Locking mode").selectOption("locked");
  await form.getByLabel("Allowed IPv4").fill("10.9.8.7 10.9.8.8");
  await form.getByLabel(/^Rate limit/).fill("2048");
  await form.getByRole("button", { name: "Save NIC 0" }).click();
  await form.getByRole("status").filter({ hasText: "Saved." }).waitFor({ timeout: 5000 });
  const v = await api("VIF.get_record", conf.vif1);
  check(v.locking_mode === "locked", "locking_mode " + v.locking_mode);
  check(JSON.stringify(v.ipv4_allowed) === '["10.9.8.7","10.9.8.8"]', "ipv4_allowed " + JSON.stringify(v.ipv4_allowed));
  check(v.qos_algorithm_type === "ratelimit" && v.qos_algorithm_params.kbps === "2048", "qos " + JSON.stringify([v.qos_algorithm_type, v.qos_algorithm_params]));
  await waitText('tr[data-vif="0"] .qos', "2048 kbps", 5000);
  await waitText('tr[data-vif="0"] .locking', "locked: 10.9.8.7, 10.9.8.8", 5000);
  // a bad address: the daemon's error in the page, the record as it was
  await form.getByLabel("Allowed IPv4").fill("not-an-address");
  await form.getByRole("button", { name: "Save NIC 0" }).click();
  await form.locator(".error").waitFor({ timeout: 5000 });
  check(JSON.stringify(await api("VIF.get_ipv4_allowed", conf.vif1)) === '["10.9.8.7","10.9.8.8"]', "a bad address changed ipv4_allowed");
});

await step("networks show PIFs", async () => {
  await page.goto(url + "/#/networks");
  await page.getByRole("table", { name: "PIFs" }).waitFor({ timeout: 5000 });
  const pifs = Object.values(await api("PIF.get_all_records"));
  for (const p of pifs) {
    if (!p.IP) continue;
    await page.locator("table[aria-label=PIFs] td.addr").filter({ hasText: p.IP }).first().waitFor({ timeout: 5000 });
  }
  if (!pifs.length) await page.getByText("No PIFs").waitFor({ timeout: 5000 });
  console.error(`PIFs shown: ${pifs.length}`);
});

if (conf.nics.length) await step("vlan and bond", async () => {
  const [a, b, c] = conf.nics;
  const on = (d) => `${d} on ${conf.host}`;
  await page.goto(url + "/#/networks");
  await page.locator(`tr[data-pif="${c}"] td.addr`).filter({ hasText: "10.79.0.1/255.255.255.0" }).waitFor({ timeout: 5000 });
  const nets = async () => (await api("network.get_all")).length;
  await page.getByLabel("On PIF").selectOption({ label: on(c) });
  await page.getByLabel("VLAN tag").fill("42");
  await page.getByLabel("VLAN name").fill("web-vlan");
  await page.getByRole("button", { name: "Create VLAN" }).click();
  await page.getByRole("status").filter({ hasText: "Created web-vlan" }).waitFor({ timeout: 15000 });
  const vlans = Object.values(await api("VLAN.get_all_records"));
  check(vlans.length === 1 && Number(vlans[0].tag) === 42, "VLANs " + JSON.stringify(vlans));
  // the same tag again: the daemon's error, and the network made for it taken back
  const before = await nets();
  await page.getByLabel("VLAN name").fill("web-vlan-again");
  await page.getByRole("button", { name: "Create VLAN" }).click();
  await page.locator('.error[data-code="PIF_VLAN_EXISTS"]').waitFor({ timeout: 10000 });
  check((await nets()) === before, "the refused VLAN left a network");
  await page.locator(`tr[data-pif="${c}.42"]`).waitFor({ timeout: 5000 });
  // a bond of the other two
  await page.getByLabel(on(a), { exact: true }).check();
  await page.getByLabel(on(b), { exact: true }).check();
  await page.getByLabel("Bond name").fill("web-bond");
  await page.getByRole("button", { name: "Create bond" }).click();
  await page.getByRole("status").filter({ hasText: "Created web-bond" }).waitFor({ timeout: 20000 });
  const bonds = Object.values(await api("Bond.get_all_records"));
  check(bonds.length === 1 && bonds[0].slaves.length === 2, "bonds " + JSON.stringify(bonds));
  check((await api("network.get_by_name_label", "web-bond")).length === 1, "no web-bond network");
});

// a GRE tunnel on the PIF with an address, made and destroyed in the page
if (conf.nics.length) await step("tunnel create and destroy", async () => {
  const c = conf.nics[2];
  await page.goto(url + "/#/networks");
  const card = page.getByRole("region", { name: "Tunnels" });
  await card.getByLabel("Tunnel over PIF").selectOption({ label: `${c} on ${conf.host}` });
  await card.getByLabel("Protocol").selectOption("gre");
  await card.getByLabel("Tunnel name").fill("web-tunnel");
  await card.getByRole("button", { name: "Create tunnel" }).click();
  await card.getByRole("status").filter({ hasText: "Created tunnel network web-tunnel" }).waitFor({ timeout: 15000 });
  const row = card.locator('tr[data-tunnel="web-tunnel"]');
  await row.filter({ hasText: "gre" }).waitFor({ timeout: 5000 });
  const tunnels = Object.values(await api("tunnel.get_all_records"));
  check(tunnels.length === 1 && tunnels[0].protocol === "gre", "tunnels " + JSON.stringify(tunnels));
  const listed = xe("tunnel-list", "params=uuid,protocol");
  check(listed.includes(tunnels[0].uuid) && /protocol.*: gre/.test(listed), "xe tunnel-list: " + listed);
  await row.getByRole("button", { name: "Destroy tunnel web-tunnel" }).click();
  await row.waitFor({ state: "detached", timeout: 15000 });
  check(xe("tunnel-list") === "", "xe tunnel-list after destroy: " + xe("tunnel-list"));
  check((await api("network.get_by_name_label", "web-tunnel")).length === 0, "the tunnel's network left");
});

let exported = "";
await step("export download", async () => {
  await page.goto(url + "/#/vm/" + encodeURIComponent(conf.vm2));
  await waitText("#vm-name", "web-vm-2");
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 20000 }), page.getByRole("link", { name: "Export" }).click()]);
  exported = join(conf.shots, "web-vm-2.xva");
  await dl.saveAs(exported);
  check(/\.xva$/.test(dl.suggestedFilename()), "file name " + dl.suggestedFilename());
  const head = readFileSync(exported).subarray(0, 512);
  check(head.subarray(0, 7).toString() === "ova.xml", "not an XVA: " + JSON.stringify(head.subarray(0, 16).toString()));
});

await step("import upload", async () => {
  check(exported, "nothing exported");
  await page.goto(url + "/#/vms");
  await page.locator('input[name="import"]').setInputFiles(exported);
  const li = page.locator("li.upload").first();
  await page.locator('li.upload[data-done="yes"]').first().waitFor({ timeout: 30000 });
  const errors = await page.locator("li.upload .error").allTextContents();
  check(errors.length === 0, "import error: " + errors.join(" "));
  const bar = li.locator("progress");
  check((await bar.getAttribute("value")) === (await bar.getAttribute("max")), "progress not at its end");
  await li.getByRole("link", { name: "web-vm-2" }).waitFor({ timeout: 5000 });
  const same = await api("VM.get_by_name_label", "web-vm-2");
  check(same.length === 2, "VMs named web-vm-2: " + same.length);
});

await step("wizard", async () => {
  await page.goto(url + "/#/new-vm");
  await page.getByLabel("Template").selectOption({ label: "Debian Bookworm 12" });
  await page.getByLabel("Name", { exact: true }).fill("wiz-vm");
  await page.getByLabel("Memory (MiB)").fill("512");
  await page.getByLabel("Disk size (GiB, 0 for none)").fill("1");
  await page.getByRole("button", { name: "Create VM" }).click();
  await page.getByRole("status").filter({ hasText: "Created" }).waitFor({ timeout: 20000 });
  const uuid = xe("vm-list", "name-label=wiz-vm", "--minimal");
  check(/^[0-9a-f-]{36}$/.test(uuid), "xe vm-list name-label=wiz-vm: " + JSON.stringify(uuid));
  const mem = xe("vm-param-get", "uuid=" + uuid, "param-name=memory-static-max");
  check(mem === String(512 << 20), "memory-static-max " + mem);
  const disks = xe("vbd-list", "vm-uuid=" + uuid, "type=Disk", "--minimal");
  check(disks.length > 0, "the wizard's VM has no disk");
});

await step("start guest", async () => {
  await page.goto(url + "/#/vm/" + encodeURIComponent(conf.guest));
  await waitText("#vm-state", "Halted");
  await page.getByRole("toolbar", { name: "VM actions" }).getByRole("button", { name: "Start", exact: true }).click();
  await waitText("#vm-state", "Running", 60000);
});
const started = Date.now();

await step("serial console", async () => {
  await page.locator("#serial-panel .xterm-rows").waitFor({ timeout: 10000 });
  await page.waitForFunction(() => /XENON-GUEST: ready/.test(document.querySelector("#serial-panel .xterm-rows")?.textContent || ""), null, {
    timeout: 90000,
    polling: 250,
  });
});

await step("https and wss", async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  const old = page;
  page = p;
  try {
    await p.goto(conf.https + "/");
    await p.getByLabel("Password").fill(conf.password);
    await p.getByRole("button", { name: "Log in" }).click();
    await p.locator(".conn.on").waitFor({ timeout: 10000 });
    await p.goto(conf.https + "/#/vm/" + encodeURIComponent(conf.guest));
    // the history since boot comes first on a new connection
    await p.waitForFunction(() => /XENON-GUEST: ready/.test(document.querySelector("#serial-panel .xterm-rows")?.textContent || ""), null, { timeout: 20000, polling: 250 });
  } finally {
    page = old;
    await ctx.close();
  }
});

await step("vnc screen", async () => {
  await page.getByRole("tab", { name: "Screen" }).click();
  await waitText("#screen-panel .screen-state", "connected", 15000);
  await page.waitForFunction(
    () => {
      const c = document.querySelector("#screen-panel canvas");
      if (!c || !c.width || !c.height) return false;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 60) lit++;
      return lit > 50;
    },
    null,
    { timeout: 20000, polling: 500 },
  );
  await page.getByRole("tab", { name: "Serial console" }).click();
});

await step("pause and unpause", async () => {
  const bar = page.getByRole("toolbar", { name: "VM actions" });
  await bar.getByRole("button", { name: "Pause", exact: true }).click();
  await waitText("#vm-state", "Paused", 15000);
  check((await api("VM.get_power_state", conf.guest)) === "Paused", "API does not say Paused");
  await bar.getByRole("button", { name: "Unpause", exact: true }).click();
  await waitText("#vm-state", "Running", 15000);
  check((await api("VM.get_power_state", conf.guest)) === "Running", "API does not say Running");
});

await step("guest tools", async () => {
  const card = page.locator("#guest-tools");
  await card.getByLabel("Command").fill("echo web-$((6*7)); echo to-err >&2; exit 3");
  await card.getByRole("button", { name: "Run in guest" }).click();
  await waitText("#guest-tools .exitcode", "3", 30000);
  check((await card.locator("pre.stdout").textContent()) === "web-42\n", "stdout " + (await card.locator("pre.stdout").textContent()));
  check((await card.locator("pre.stderr").textContent()) === "to-err\n", "stderr");
  // a file up into the guest, checked there, and down again
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 255));
  await card.locator('input[name="guest-upload"]').setInputFiles({ name: "web-up.bin", mimeType: "application/octet-stream", buffer: bytes });
  await card.getByLabel(/^Into/).fill("/tmp/");
  await card.getByRole("button", { name: "Upload to guest" }).click();
  await card.getByRole("status").filter({ hasText: "Uploaded /tmp/web-up.bin." }).waitFor({ timeout: 15000 });
  await card.getByLabel("Command").fill("wc -c < /tmp/web-up.bin");
  await card.getByRole("button", { name: "Run in guest" }).click();
  await page.waitForFunction(() => document.querySelector("#guest-tools pre.stdout")?.textContent?.trim() === "3000", null, { timeout: 15000, polling: 100 });
  await card.getByLabel(/^File to download/).fill("/tmp/web-up.bin");
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 15000 }), card.getByRole("button", { name: "Download from guest" }).click()]);
  const f = join(conf.shots, "web-down.bin");
  await dl.saveAs(f);
  check(dl.suggestedFilename() === "web-up.bin", "file name " + dl.suggestedFilename());
  check(Buffer.compare(readFileSync(f), bytes) === 0, "the file came back different");
  // a file that is not there: the daemon's error in the page
  await card.getByLabel(/^File to download/).fill("/tmp/no-such-file");
  await card.getByRole("button", { name: "Download from guest" }).click();
  await card.locator(".error").waitFor({ timeout: 15000 });
});

if (conf.guestVif) await step("vif capture", async () => {
  const form = page.getByRole("form", { name: "Capture on NIC 0" });
  await form.getByLabel("Seconds").fill("2");
  await form.getByLabel("Capture filter (BPF)").fill("no such filter ((");
  await form.getByRole("button", { name: "Capture NIC 0" }).click();
  const err = form.locator('.error[data-code="CAPTURE_FILTER_INVALID"]');
  await err.waitFor({ timeout: 10000 });
  check((await err.textContent()).includes("no such filter"), "error box: " + (await err.textContent()));
  await form.getByLabel("Capture filter (BPF)").fill("icmp or udp");
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 20000 }), form.getByRole("button", { name: "Capture NIC 0" }).click()]);
  const f = join(conf.shots, "capture.pcap");
  await dl.saveAs(f);
  check(/\.pcap$/.test(dl.suggestedFilename()), "file name " + dl.suggestedFilename());
  const head = readFileSync(f).subarray(0, 24);
  check(head.length === 24 && head.readUInt32LE(0) === 0xa1b2c3d4, "not a pcap: " + head.toString("hex"));
  check((await form.locator(".error").count()) === 0, "an error after a good capture");
});

await step("cpu chart", async () => {
  const wait = 15000 - (Date.now() - started);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  try {
    await page.waitForFunction(() => Number(document.querySelector("#chart-cpu")?.dataset.points || 0) > 0, null, { timeout: 30000, polling: 500 });
  } catch (e) {
    // what the server has, to tell a page fault from missing metrics
    const uuid = await api("VM.get_uuid", conf.guest);
    const now = Math.floor(Date.now() / 1000);
    const r = await fetch(`${url}/rrd_updates?session_id=${session}&start=${now - 300}&cf=AVERAGE&interval=5&json=true&vm_uuid=${uuid}`);
    const body = await r.text();
    throw new Error(`${e.message}; page shows ${await page.locator("#chart-cpu").getAttribute("data-points")} points; /rrd_updates: ${r.status} ${body.slice(0, 400)}`);
  }
  if (process.env.XENON_WEB_SHOTS === "all") await page.locator("section.charts").screenshot({ path: join(conf.shots, "ok-charts.png") });
});

await step("cancel task", async () => {
  await page.goto(url + "/#/tasks");
  const row = page.locator(`li[data-task="${conf.task}"]`);
  await row.waitFor({ timeout: 5000 });
  check((await row.locator(".pct").textContent()) === "40 %", "progress shown: " + (await row.locator(".pct").textContent()));
  const t0 = Date.now();
  await row.getByRole("button", { name: "Cancel" }).click();
  console.error(`cancel clicked after ${Date.now() - t0} ms`);
  const ref = await api("task.get_by_uuid", conf.task);
  await until("the cancel", async () => {
    const t = await api("task.get_record", ref);
    return t.status !== "pending" || Object.values(t.current_operations).includes("cancel");
  });
  const errors = await row.locator(".error").allTextContents();
  check(errors.length === 0, "cancel showed an error: " + errors.join(" "));
});

await step("error with code and parameters", async () => {
  // a failed task's error as xapi words it: its code, its parameters, and a sentence
  const t = await api("task.create", "web-failed-task", "");
  await api("task.set_error_info", t, ["VM_BAD_POWER_STATE", conf.vm1, "running", "halted"]);
  await api("task.set_status", t, "failure");
  const uuid = await api("task.get_uuid", t);
  const box = page.locator(`li[data-task="${uuid}"] .error[data-code="VM_BAD_POWER_STATE"]`);
  await box.waitFor({ timeout: 5000 });
  const txt = await box.textContent();
  check(txt.includes(conf.vm1) && txt.includes("running") && txt.includes("halted"), "error box: " + txt);
});

if (conf.localUser) await step("users and roles", async () => {
  const user = conf.localUser;
  await page.goto(url + "/#/users");
  await page.getByLabel("User or group name").fill(user);
  await page.getByRole("button", { name: "Add subject" }).click();
  const row = page.locator(`tr[data-subject="${user}"]`);
  await row.waitFor({ timeout: 10000 });
  const subj = await until("the subject", async () => {
    const all = Object.values(await api("subject.get_all_records"));
    return all.find((x) => x.other_config["subject-name"] === user);
  });
  await page.getByLabel(`Add a role to ${user}`).selectOption({ label: "vm-operator" });
  await row.locator('.role[data-role="vm-operator"]').waitFor({ timeout: 5000 });
  const roles = async () => Promise.all((await api("subject.get_record", await api("subject.get_by_uuid", subj.uuid))).roles.map((r) => api("role.get_name_label", r)));
  check(JSON.stringify(await roles()) === '["vm-operator"]', "roles " + JSON.stringify(await roles()));
  // the user logs in with that role: actions, no Users page
  const p = await newPage();
  try {
    await login(p, user, conf.localPassword);
    await p.locator(".conn.on").waitFor({ timeout: 10000 });
    check((await p.locator("header .user").textContent()).indexOf("read-only") < 0, "vm-operator shown read-only");
    check((await p.getByRole("link", { name: "Users" }).count()) === 0, "Users link for a vm-operator");
  } finally {
    await p.context().close();
  }
  await page.getByRole("button", { name: `Remove role vm-operator from ${user}` }).click();
  await row.locator(".role").first().waitFor({ state: "detached", timeout: 5000 });
  check((await roles()).length === 0, "role still there");
  await page.getByRole("button", { name: `Remove subject ${user}` }).click();
  await row.waitFor({ state: "detached", timeout: 5000 });
  check(Object.values(await api("subject.get_all_records")).every((x) => x.other_config["subject-name"] !== user), "subject still there");
});

if (conf.disk) await step("browse disk", async () => {
  // from the SR's disk list to the disk's page; the first look starts the
  // inspection appliance (15-60 s under TCG)
  await page.goto(url + "/#/sr/" + encodeURIComponent(conf.diskSr));
  await page.locator('tr[data-name="web-disk"]').getByRole("link", { name: "Browse disk" }).click();
  await page.locator("h1").filter({ hasText: "Browse disk: web-disk" }).waitFor({ timeout: 5000 });
  const fsRow = page.locator('table[aria-label="Filesystems"] tr[data-device="/dev/sda"]');
  await fsRow.waitFor({ timeout: 150000 });
  const cells = await fsRow.locator("td").allTextContents();
  check(cells[1] === "vfat" && cells[2] === "XWEB", "filesystem row: " + cells.join(" | "));
  const want = await api("VDI.inspect", conf.disk);
  check(cells[3] === want.filesystems[0].uuid, `uuid shown ${cells[3]}, VDI.inspect says ${want.filesystems[0].uuid}`);
  check((await page.locator('[data-os="none"]').count()) === 1, "an operating system shown on a bare vfat disk");
  // the only filesystem is listed at its root
  const dir = page.locator('table[aria-label="Directory"]');
  await dir.locator('tr[data-name="hello.txt"]').waitFor({ timeout: 60000 });
  const names = (await dir.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.name))).sort();
  check(JSON.stringify(names) === JSON.stringify(["docs", "hello.txt"]), "root listing: " + names.join(","));
  check((await dir.locator('tr[data-name="hello.txt"] td').nth(2).textContent()).trim() !== "", "no size for hello.txt");
  // into a directory, and a file downloaded from it
  await dir.locator('tr[data-name="docs"]').getByRole("link").click();
  await page.locator('[data-dir="/docs"]').waitFor({ timeout: 5000 });
  await dir.locator('tr[data-name="inner.txt"]').waitFor({ timeout: 60000 });
  const [dl] = await Promise.all([
    page.waitForEvent("download", { timeout: 60000 }),
    dir.locator('tr[data-name="inner.txt"]').getByRole("link", { name: "Download" }).click(),
  ]);
  check(dl.suggestedFilename() === "inner.txt", "download named " + dl.suggestedFilename());
  const got = readFileSync(await dl.path(), "utf8");
  check(got === "inner file\n", "downloaded " + JSON.stringify(got));
  // and back up
  await page.getByRole("button", { name: "Up", exact: true }).click();
  await dir.locator('tr[data-name="hello.txt"]').waitFor({ timeout: 60000 });
});

await step("read-only user", async () => {
  const p = await newPage();
  const old = page;
  page = p;
  try {
    await login(p, conf.reader[0], conf.reader[1]);
    await p.locator(".conn.on").waitFor({ timeout: 10000 });
    await p.locator("header .user").filter({ hasText: "(read-only)" }).waitFor({ timeout: 5000 });
    for (const vm of [conf.vm1, conf.guest]) {
      await p.goto(url + "/#/vm/" + encodeURIComponent(vm));
      await p.locator("#vm-name").waitFor({ timeout: 5000 });
      check((await p.locator('[role="toolbar"][aria-label="VM actions"]').count()) === 0, "action toolbar shown");
      for (const n of ["Start", "Shut down", "Pause", "Delete", "Take snapshot", "Revert to snap-a", "Clone"])
        check((await p.getByRole("button", { name: n, exact: true }).count()) === 0, `button ${n} shown`);
    }
    check((await p.getByRole("link", { name: "New VM" }).count()) === 0, "New VM link shown");
    check((await p.getByRole("link", { name: "Users" }).count()) === 0, "Users link shown");
    check((await p.locator("#guest-tools, .vif-edit, .vif-capture").count()) === 0, "guest tools or NIC controls shown");
    await p.goto(url + "/#/tasks");
    await p.locator("h1").filter({ hasText: "Tasks" }).waitFor();
    check((await p.getByRole("button", { name: "Cancel" }).count()) === 0, "Cancel shown");
  } finally {
    page = old;
  }
});

await step("no CSP violations", async () => {
  check(cspViolations.length === 0, cspViolations.length + " violations, the first: " + cspViolations[0]);
});

await browser.close();
process.exit(failed ? 1 : 0);
