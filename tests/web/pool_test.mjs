// Browser steps of tests/integration/test_web_pool.py: a pool of two lab
// hosts, the page on the master's origin. One JSON line per step on
// stdout; a failing step leaves <shots>/<step>.png.
import { createRequire } from "node:module";
import { join } from "node:path";

const conf = JSON.parse(process.env.XENON_WEB_TEST);
const require = createRequire(join(conf.playwright, "package.json"));
const { chromium } = require(conf.playwright);

const url = conf.url;
const origin = new URL(url).host;
let failed = false;
const cspViolations = [];
const otherOrigins = [];
const sockets = [];

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
const session = await rpc("session.login_with_password", ["root", conf.password, "1.0", "web-pool-test"]);
const api = (m, ...a) => rpc(m, [session, ...a]);

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function until(what, f, ms = 10000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, every));
  }
}

const browser = await chromium.launch({
  executablePath: conf.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
page.on("dialog", (d) => d.accept());
page.on("pageerror", (e) => console.error("page error:", e.message));
page.on("console", (m) => {
  if (m.type() !== "error" || /status of [45]\d\d/.test(m.text())) return;
  console.error("console:", m.text());
  if (/Content Security Policy/.test(m.text())) cspViolations.push(m.text());
});
page.on("request", (r) => {
  const u = new URL(r.url());
  if (u.protocol.startsWith("http") && u.host !== origin) otherOrigins.push(r.url());
});
page.on("websocket", (ws) => sockets.push(ws.url()));

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    console.log(JSON.stringify({ step: name, ok: true, secs: (Date.now() - t) / 1000 }));
  } catch (e) {
    failed = true;
    const shot = join(conf.shots, name.replace(/[^a-z0-9]+/gi, "-") + ".png");
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(JSON.stringify({ step: name, ok: false, secs: (Date.now() - t) / 1000, error: String(e?.message || e).slice(0, 600), screenshot: shot }));
  }
}

// the names of the VMs the tree shows under a host
const vmsUnder = (host) =>
  page.locator(`nav.tree li[data-host="${host}"] > ul a .label`).allTextContents();

await step("login", async () => {
  await page.goto(url + "/");
  await page.getByLabel("User name").fill("root");
  await page.getByLabel("Password").fill(conf.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".conn.on").waitFor({ timeout: 10000 });
});

await step("both hosts in the tree", async () => {
  const master = page.locator(`nav.tree li[data-host="${conf.master}"]`);
  const member = page.locator(`nav.tree li[data-host="${conf.member}"]`);
  await master.waitFor({ timeout: 5000 });
  await member.waitFor({ timeout: 5000 });
  await master.locator("a.host .badge").filter({ hasText: "master" }).waitFor({ timeout: 5000 });
  check((await member.locator("a.host .badge").filter({ hasText: "master" }).count()) === 0, "the member marked master");
  await until("the guest under the member", async () => (await vmsUnder(conf.member)).includes("pool-guest"), 5000);
  check(!(await vmsUnder(conf.master)).includes("pool-guest"), "the guest under the master too");
  // the dashboard lists both hosts
  await page.goto(url + "/#/dashboard");
  for (const h of [conf.master, conf.member]) await page.locator("#card-hosts .host-row").filter({ hasText: h }).waitFor({ timeout: 5000 });
});

await step("member's host page", async () => {
  await page.locator(`nav.tree li[data-host="${conf.member}"] > a.host`).click();
  await page.locator("#host-role").filter({ hasText: "pool member" }).waitFor({ timeout: 5000 });
  await page.getByRole("toolbar", { name: "Host actions" }).getByRole("button", { name: "Evacuate" }).waitFor({ timeout: 5000 });
  await page.locator(".page.host").getByRole("link", { name: "pool-guest" }).waitFor({ timeout: 5000 });
  // its CPU, read from the member through the master
  await page.waitForFunction(() => /%/.test(document.querySelector("#host-cpu")?.textContent || ""), null, { timeout: 15000, polling: 250 });
  // the member's own figures, relayed by the master (host_uuid)
  const uuid = await api("host.get_uuid", conf.memberRef);
  const now = Math.floor(Date.now() / 1000);
  const r = await page.evaluate(async ([u, s, n]) => {
    const q = new URLSearchParams({ session_id: s, start: String(n - 600), cf: "AVERAGE", interval: "5", host: "true", host_uuid: u, json: "true" });
    const x = await fetch("/rrd_updates?" + q);
    return { status: x.status, body: await x.text() };
  }, [uuid, session, now]);
  check(r.status === 200, "rrd_updates host_uuid: HTTP " + r.status + " " + r.body.slice(0, 200));
  const legend = JSON.parse(r.body).meta.legend;
  check(legend.some((l) => l.includes(`host:${uuid}:`)), "no figures of the member: " + legend.slice(0, 4).join(" "));
});

await step("member vm chart", async () => {
  await page.goto(url + "/#/vm/" + encodeURIComponent(conf.guest));
  await page.locator("#vm-state").filter({ hasText: "Running" }).waitFor({ timeout: 5000 });
  await page.waitForFunction(() => Number(document.querySelector("#chart-cpu")?.dataset.points || 0) > 0, null, { timeout: 40000, polling: 500 });
});

await step("member vm console through the master", async () => {
  await page.locator("#serial-panel .console-state").filter({ hasText: "connected" }).waitFor({ timeout: 15000 });
  await page.waitForFunction(() => /XENON-GUEST: ready/.test(document.querySelector("#serial-panel .xterm-rows")?.textContent || ""), null, {
    timeout: 60000,
    polling: 250,
  });
  // keys typed go the other way, to the guest's shell on the member
  await page.locator("#serial-panel .xterm").click();
  await page.keyboard.type("echo RELAY-$((6*7))\n");
  await page.waitForFunction(() => /RELAY-42/.test(document.querySelector("#serial-panel .xterm-rows")?.textContent || ""), null, {
    timeout: 15000,
    polling: 250,
  });
  // the screen too (noVNC through the same relay)
  await page.getByRole("tab", { name: "Screen" }).click();
  await page.locator("#screen-panel .screen-state").filter({ hasText: /^connected$/ }).waitFor({ timeout: 15000 });
  await page.locator("#screen-panel canvas").waitFor({ timeout: 5000 });
  await page.getByRole("tab", { name: "Serial console" }).click();
  check(sockets.length > 0 && sockets.every((u) => new URL(u).host === origin), "console sockets: " + sockets.join(" "));
});

await step("migrate from the page", async () => {
  const form = page.locator("form.migrate");
  await form.locator('select[name="migrate-to"]').selectOption({ label: conf.master });
  await form.getByRole("button", { name: "Migrate" }).click();
  await form.getByRole("status").filter({ hasText: `Migrated to ${conf.master}` }).waitFor({ timeout: 60000 });
  await until("the guest under the master", async () => (await vmsUnder(conf.master)).includes("pool-guest"), 5000);
  check(!(await vmsUnder(conf.member)).includes("pool-guest"), "the guest still under the member");
  check((await api("VM.get_resident_on", conf.guest)) === conf.masterRef, "resident_on is not the master");
});

await step("drag the vm onto a host", async () => {
  const vm = page.locator(`nav.tree li[data-host="${conf.master}"] > ul a`).filter({ hasText: "pool-guest" });
  await vm.dragTo(page.locator(`nav.tree li[data-host="${conf.member}"] > a.host`));
  await until("the guest under the member again", async () => (await vmsUnder(conf.member)).includes("pool-guest"), 60000, 250);
  check((await api("VM.get_resident_on", conf.guest)) === conf.memberRef, "resident_on is not the member");
  await page.locator("nav.tree .moving").filter({ hasText: "migrated" }).waitFor({ timeout: 5000 });
});

await step("file dropped on the page imports", async () => {
  await page.goto(url + "/#/dashboard");
  await page.locator("#card-hosts").waitFor({ timeout: 5000 });
  check((await page.locator("section.import").count()) === 0, "the dashboard has the import card");
  const { readFileSync } = await import("node:fs");
  const bytes = [...readFileSync(conf.dropFile)];
  const dt = await page.evaluateHandle((b) => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(b)], "dropped-disk.vmdk"));
    return d;
  }, bytes);
  const target = page.locator("main .cards").first();
  await target.dispatchEvent("dragenter", { dataTransfer: dt });
  await target.dispatchEvent("dragover", { dataTransfer: dt });
  await target.dispatchEvent("drop", { dataTransfer: dt });
  const li = page.locator("section.imports li.upload").first();
  await li.waitFor({ timeout: 5000 });
  await page.locator('section.imports li.upload[data-done="yes"]').waitFor({ timeout: 30000 });
  const errors = await li.locator(".error").allTextContents();
  check(errors.length === 0, "import error: " + errors.join(" "));
  const bar = li.locator("progress");
  check((await bar.getAttribute("value")) === (await bar.getAttribute("max")), "progress not at its end");
  await li.getByRole("link", { name: "dropped-disk" }).waitFor({ timeout: 5000 });
});

await step("member maintenance and evacuate", async () => {
  await page.goto(url + "/#/host/" + encodeURIComponent(conf.memberRef));
  const bar = page.getByRole("toolbar", { name: "Host actions" });
  await bar.getByRole("button", { name: "Enter maintenance mode" }).click();
  await bar.getByRole("button", { name: "Leave maintenance mode" }).waitFor({ timeout: 10000 });
  check((await api("host.get_enabled", conf.memberRef)) === false, "the member is still enabled");
  await page.locator(`nav.tree li[data-host="${conf.member}"] > a.host .badge`).filter({ hasText: "maintenance" }).waitFor({ timeout: 5000 });
  await bar.getByRole("button", { name: "Evacuate" }).click();
  await until("the guest under the master", async () => (await vmsUnder(conf.master)).includes("pool-guest"), 60000, 250);
  check((await api("VM.get_resident_on", conf.guest)) === conf.masterRef, "resident_on is not the master");
  await bar.getByRole("button", { name: "Leave maintenance mode" }).click();
  await bar.getByRole("button", { name: "Enter maintenance mode" }).waitFor({ timeout: 10000 });
  check((await api("host.get_enabled", conf.memberRef)) === true, "the member is still disabled");
});

await step("no CSP violations", async () => {
  check(cspViolations.length === 0, cspViolations.length + " violations, the first: " + cspViolations[0]);
  check(otherOrigins.length === 0, "requests to other origins: " + otherOrigins.slice(0, 3).join(" "));
});

await browser.close();
process.exit(failed ? 1 : 0);
