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
