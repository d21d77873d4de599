// One VM: its state and actions, consoles, charts, disks, NICs, snapshots.
import { useEffect, useState } from "preact/hooks";
import { ComponentType } from "preact";
import * as store from "../store";
import { asyncCall, call, getSession, XenAPIError } from "../api";
import { bytes, when } from "../format";
import { Card, ErrorBox, href, perms, useAction } from "../ui";

// The heavy panels (noVNC, xterm.js, uPlot) load when a VM page opens.
function Lazy<P>({ load, props }: { load: () => Promise<ComponentType<P>>; props: P }) {
  const [C, setC] = useState<ComponentType<P> | null>(null);
  useEffect(() => {
    load().then((c) => setC(() => c));
  }, []);
  return C ? <C {...(props as any)} /> : <p class="muted">Loading…</p>;
}
const loadSerial = () => import("../console").then((m) => m.SerialConsole);
const loadScreen = () => import("../console").then((m) => m.Screen);
const loadCharts = () => import("../charts").then((m) => m.VmCharts);

interface Act {
  label: string;
  op: string; // allowed_operations name
  run: (vm: store.Rec) => Promise<unknown>;
  confirm?: string;
}

const actions: Act[] = [
  { label: "Start", op: "start", run: (vm) => asyncCall("VM.start", vm._ref, false, false) },
  { label: "Resume", op: "resume", run: (vm) => asyncCall("VM.resume", vm._ref, false, false) },
  { label: "Shut down", op: "clean_shutdown", run: (vm) => asyncCall("VM.clean_shutdown", vm._ref) },
  { label: "Force shut down", op: "hard_shutdown", run: (vm) => asyncCall("VM.hard_shutdown", vm._ref), confirm: "Force the VM off?" },
  { label: "Reboot", op: "clean_reboot", run: (vm) => asyncCall("VM.clean_reboot", vm._ref) },
  { label: "Pause", op: "pause", run: (vm) => call("VM.pause", vm._ref) },
  { label: "Unpause", op: "unpause", run: (vm) => call("VM.unpause", vm._ref) },
  { label: "Suspend", op: "suspend", run: (vm) => asyncCall("VM.suspend", vm._ref) },
  { label: "Clone", op: "clone", run: (vm) => asyncCall("VM.clone", vm._ref, vm.name_label + " (clone)") },
  // a full copy of every disk, onto the SRs they are on
  { label: "Copy", op: "copy", run: (vm) => asyncCall("VM.copy", vm._ref, vm.name_label + " (copy)", "OpaqueRef:NULL") },
];

// What the power state allows, when the record lists no operations.
const byState: Record<string, string[]> = {
  Halted: ["start", "clone", "copy", "destroy"],
  Running: ["clean_shutdown", "hard_shutdown", "clean_reboot", "pause", "suspend"],
  Paused: ["unpause", "hard_shutdown"],
  Suspended: ["resume", "hard_shutdown"],
};

function allowed(vm: store.Rec, op: string): boolean {
  const ops: string[] = Array.isArray(vm.allowed_operations) && vm.allowed_operations.length ? vm.allowed_operations : byState[vm.power_state] || [];
  return ops.includes(op) && (byState[vm.power_state] || []).includes(op);
}

async function destroyVm(vm: store.Rec) {
  // the VM's own disks go with it; CDs and shared images stay
  for (const vbd of vm.VBDs || []) {
    const b = store.get("vbd", vbd);
    if (b && b.type === "Disk" && b.VDI && b.VDI !== "OpaqueRef:NULL") {
      await call("VDI.destroy", b.VDI).catch(() => {});
    }
  }
  await call("VM.destroy", vm._ref);
}

function Snapshots({ vm }: { vm: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const [name, setName] = useState("");
  const snaps = (vm.snapshots || []).map((r: string) => store.get("vm", r)).filter(Boolean) as store.Rec[];
  // a tree by parent: each snapshot under the one it was taken after
  const kids = new Map<string, store.Rec[]>();
  const roots: store.Rec[] = [];
  const refs = new Set(snaps.map((s) => s._ref));
  for (const s of snaps.sort((a, b) => String(a.snapshot_time).localeCompare(String(b.snapshot_time)))) {
    if (s.parent && refs.has(s.parent)) kids.set(s.parent, [...(kids.get(s.parent) || []), s]);
    else roots.push(s);
  }
  const item = (s: store.Rec): any => (
    <li key={s._ref} class="snapshot" data-name={s.name_label}>
      <span class="name">{s.name_label}</span> <span class="muted">{when(s.snapshot_time)}</span>
      {vm.parent === s._ref && <span class="badge">current</span>}
      {perms.canAct && (
        <>
          {" "}
          <button type="button" disabled={busy} onClick={() => run(() => asyncCall("VM.revert", s._ref))} aria-label={`Revert to ${s.name_label}`}>
            Revert
          </button>{" "}
          <button type="button" disabled={busy} onClick={() => confirm(`Delete snapshot ${s.name_label}?`) && run(() => destroyVm(s))} aria-label={`Delete ${s.name_label}`}>
            Delete
          </button>
        </>
      )}
      {kids.has(s._ref) && <ul>{kids.get(s._ref)!.map(item)}</ul>}
    </li>
  );
  return (
    <Card title="Snapshots" id="snapshots">
      {perms.canAct && (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const n = name.trim() || `${vm.name_label} ${new Date().toLocaleString()}`;
            run(() => asyncCall("VM.snapshot", vm._ref, n)).then(() => setName(""));
          }}
        >
          <label>
            Snapshot name <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy}>
            Take snapshot
          </button>
        </form>
      )}
      <ErrorBox error={error} onClose={clear} />
      {snaps.length === 0 ? <p class="muted">No snapshots.</p> : <ul class="snaps">{roots.map(item)}</ul>}
    </Card>
  );
}

function Disks({ vm }: { vm: store.Rec }) {
  const vbds = (vm.VBDs || []).map((r: string) => store.get("vbd", r)).filter(Boolean) as store.Rec[];
  return (
    <Card title="Disks" id="disks">
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Type</th>
            <th scope="col">Name</th>
            <th scope="col">Size</th>
            <th scope="col">Storage</th>
            <th scope="col"></th>
          </tr>
        </thead>
        <tbody>
          {vbds.sort((a, b) => Number(a.userdevice) - Number(b.userdevice)).map((b) => {
            const vdi = store.get("vdi", b.VDI);
            const sr = store.get("sr", vdi?.SR);
            return (
              <tr key={b._ref}>
                <td>{b.device || b.userdevice}</td>
                <td>{b.type}</td>
                <td>{vdi ? vdi.name_label : b.empty ? "(empty)" : "—"}</td>
                <td>{vdi ? bytes(vdi.virtual_size) : ""}</td>
                <td>{sr ? <a href={href("sr", sr._ref)}>{sr.name_label}</a> : ""}</td>
                <td>{vdi && b.type === "Disk" ? <a href={href("disk", vdi._ref)}>Browse disk</a> : ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
  );
}

// The NIC's allowed addresses made the wanted list: the new ones first
// (the daemon checks each; a refusal takes back those added), then the
// old ones go.
async function setAllowed(v: store.Rec, fam: "ipv4" | "ipv6", want: string[]) {
  const have: string[] = v[fam + "_allowed"] || [];
  const added: string[] = [];
  try {
    for (const a of want.filter((a) => !have.includes(a))) {
      await call(`VIF.add_${fam}_allowed`, v._ref, a);
      added.push(a);
    }
  } catch (e) {
    for (const a of added) await call(`VIF.remove_${fam}_allowed`, v._ref, a).catch(() => {});
    throw e;
  }
  for (const a of have.filter((a) => !want.includes(a))) await call(`VIF.remove_${fam}_allowed`, v._ref, a);
}

// A NIC's controls: locking mode with its allowed addresses, and the
// rate limit (qos_algorithm_type "ratelimit" with params kbps).
function VifEdit({ v }: { v: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const [mode, setMode] = useState<string>(v.locking_mode || "network_default");
  const [v4, setV4] = useState<string>((v.ipv4_allowed || []).join(" "));
  const [v6, setV6] = useState<string>((v.ipv6_allowed || []).join(" "));
  const [kbps, setKbps] = useState<string>(v.qos_algorithm_type === "ratelimit" ? v.qos_algorithm_params?.kbps || "" : "");
  const [saved, setSaved] = useState(false);
  const list = (t: string) => t.split(/[\s,]+/).filter(Boolean);
  return (
    <form
      class="inline vif-edit"
      aria-label={`Controls of NIC ${v.device}`}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        run(async () => {
          await setAllowed(v, "ipv4", list(v4));
          await setAllowed(v, "ipv6", list(v6));
          await call("VIF.set_locking_mode", v._ref, mode);
          if (kbps.trim()) {
            await call("VIF.set_qos_algorithm_type", v._ref, "ratelimit");
            await call("VIF.set_qos_algorithm_params", v._ref, { kbps: kbps.trim() });
          } else {
            await call("VIF.set_qos_algorithm_type", v._ref, "");
            await call("VIF.set_qos_algorithm_params", v._ref, {});
          }
          setSaved(true);
        });
      }}
    >
      <label>
        Locking mode
        <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
          {["network_default", "unlocked", "locked", "disabled"].map((m) => (
            <option key={m} value={m}>{m}</option>
          ))}
        </select>
      </label>
      <label>
        Allowed IPv4
        <input value={v4} onInput={(e) => setV4(e.currentTarget.value)} placeholder="10.0.0.2 10.0.0.3" />
      </label>
      <label>
        Allowed IPv6
        <input value={v6} onInput={(e) => setV6(e.currentTarget.value)} />
      </label>
      <label>
        Rate limit (kbps, empty for none)
        <input value={kbps} inputMode="numeric" onInput={(e) => setKbps(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>Save NIC {v.device}</button>
      {saved && <span role="status">Saved.</span>}
      <ErrorBox error={error} onClose={clear} />
    </form>
  );
}

// A pcap of the NIC's traffic for some seconds from /capture, as a
// download; a refusal (a bad filter, a role below pool-operator) is shown
// with its code.
function VifCapture({ v, vm }: { v: store.Rec; vm: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const [secs, setSecs] = useState(5);
  const [filter, setFilter] = useState("");
  return (
    <form
      class="inline vif-capture"
      aria-label={`Capture on NIC ${v.device}`}
      onSubmit={(e) => {
        e.preventDefault();
        run(async () => {
          const q = new URLSearchParams({ session_id: getSession(), ref: v._ref, duration: String(secs) });
          if (filter.trim()) q.set("filter", filter.trim());
          const r = await fetch("/capture?" + q.toString());
          if (!r.ok) {
            const words = (await r.text()).trim().split(" ");
            throw new XenAPIError(words[0] || "HTTP_" + r.status, words.slice(1));
          }
          const blob = await r.blob();
          const a = document.createElement("a");
          a.href = URL.createObjectURL(blob);
          a.download = `${vm.name_label}-nic${v.device}.pcap`;
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 60000);
        });
      }}
    >
      <label>
        Seconds
        <input type="number" min={1} max={600} value={secs} onInput={(e) => setSecs(Number(e.currentTarget.value))} />
      </label>
      <label>
        Capture filter (BPF)
        <input value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="icmp or port 53" />
      </label>
      <button type="submit" disabled={busy}>{busy ? "Capturing…" : `Capture NIC ${v.device}`}</button>
      <ErrorBox error={error} onClose={clear} />
    </form>
  );
}

function Nics({ vm }: { vm: store.Rec }) {
  const vifs = (vm.VIFs || []).map((r: string) => store.get("vif", r)).filter(Boolean) as store.Rec[];
  const live = vm.power_state === "Running" || vm.power_state === "Paused";
  return (
    <Card title="Network interfaces" id="nics">
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">MAC</th>
            <th scope="col">Network</th>
            <th scope="col">Locking</th>
            <th scope="col">Rate limit</th>
          </tr>
        </thead>
        <tbody>
          {vifs.map((v) => {
            const n = store.get("network", v.network);
            const allowed = [...(v.ipv4_allowed || []), ...(v.ipv6_allowed || [])];
            return (
              <tr key={v._ref} data-vif={v.device}>
                <td>{v.device}</td>
                <td>{v.MAC}</td>
                <td>{n ? <a href={href("network", n._ref)}>{n.name_label}</a> : ""}</td>
                <td class="locking">{v.locking_mode}{allowed.length ? ": " + allowed.join(", ") : ""}</td>
                <td class="qos">{v.qos_algorithm_type === "ratelimit" ? `${v.qos_algorithm_params?.kbps || "?"} kbps` : "none"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {perms.canAct &&
        vifs.map((v) => (
          <div key={v._ref} class="vif-actions">
            <VifEdit v={v} />
            {live && <VifCapture v={v} vm={vm} />}
          </div>
        ))}
    </Card>
  );
}

// Base64 of bytes and back, in chunks (the agent's files travel as base64).
function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
function fromBase64(t: string): Uint8Array<ArrayBuffer> {
  const s = atob(t);
  const b = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

// Guest tools through the VM's agent: run a command and see its output;
// upload a file into the guest, download one from it.
function GuestTools({ vm }: { vm: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const [cmd, setCmd] = useState("");
  const [out, setOut] = useState<{ exitcode: string; stdout: string; stderr: string } | null>(null);
  const [upPath, setUpPath] = useState("/tmp/");
  const [upFile, setUpFile] = useState<File | null>(null);
  const [downPath, setDownPath] = useState("");
  const [done, setDone] = useState("");
  return (
    <Card title="Guest tools" id="guest-tools">
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            setOut(null);
            if (!cmd.trim()) throw new Error("Give a command.");
            setOut(await call("VM.guest_exec", vm._ref, ["sh", "-c", cmd], "", 30));
          });
        }}
      >
        <label>
          Command
          <input name="guest-cmd" value={cmd} onInput={(e) => setCmd(e.currentTarget.value)} placeholder="uname -a" />
        </label>
        <button type="submit" disabled={busy}>Run in guest</button>
      </form>
      {out && (
        <div class="guest-out" aria-live="polite">
          <p>
            Exit code <strong class="exitcode">{out.exitcode}</strong>
          </p>
          <pre class="stdout" aria-label="Standard output">{out.stdout}</pre>
          {out.stderr && <pre class="stderr" aria-label="Standard error">{out.stderr}</pre>}
        </div>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setDone("");
          run(async () => {
            if (!upFile) throw new Error("Choose a file.");
            const path = upPath.endsWith("/") ? upPath + upFile.name : upPath;
            await call("VM.guest_file_write", vm._ref, path, toBase64(new Uint8Array(await upFile.arrayBuffer())));
            setDone(`Uploaded ${path}.`);
          });
        }}
      >
        <label>
          File to upload
          <input type="file" name="guest-upload" onChange={(e) => setUpFile(e.currentTarget.files?.[0] || null)} />
        </label>
        <label>
          Into (a directory ending in / or a path)
          <input name="guest-up-path" value={upPath} onInput={(e) => setUpPath(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>Upload to guest</button>
      </form>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setDone("");
          run(async () => {
            if (!downPath.trim()) throw new Error("Give the file's path in the guest.");
            const data = fromBase64(await call("VM.guest_file_read", vm._ref, downPath.trim()));
            const a = document.createElement("a");
            a.href = URL.createObjectURL(new Blob([data]));
            a.download = downPath.trim().split("/").pop() || "file";
            document.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(a.href), 60000);
          });
        }}
      >
        <label>
          File to download (path in the guest)
          <input name="guest-down-path" value={downPath} onInput={(e) => setDownPath(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>Download from guest</button>
      </form>
      {done && <p role="status">{done}</p>}
      <ErrorBox error={error} onClose={clear} />
    </Card>
  );
}

// Live migration to another host of the pool (VM.pool_migrate as a task:
// it lasts as long as the memory takes to copy). The keyboard's way to
// what dragging the VM onto a host in the tree does.
function Migrate({ vm }: { vm: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const others = store.all("host").filter((h) => h._ref !== vm.resident_on && h.enabled);
  const [to, setTo] = useState("");
  const [done, setDone] = useState("");
  if (!others.length) return null;
  return (
    <form
      class="inline migrate"
      aria-label="Migrate"
      onSubmit={(e) => {
        e.preventDefault();
        setDone("");
        const h = others.find((x) => x._ref === to) || others[0];
        run(async () => {
          await asyncCall("VM.pool_migrate", vm._ref, h._ref, { live: "true" });
          setDone(`Migrated to ${h.name_label}.`);
        });
      }}
    >
      <label>
        Migrate to host
        <select name="migrate-to" value={to} onChange={(e) => setTo(e.currentTarget.value)}>
          {others.map((h) => (
            <option key={h._ref} value={h._ref}>{h.name_label}</option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>{busy ? "Migrating…" : "Migrate"}</button>
      {done && <span role="status">{done}</span>}
      <ErrorBox error={error} onClose={clear} />
    </form>
  );
}

export function VmPage({ vmRef }: { vmRef: string }) {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const [tab, setTab] = useState<"serial" | "screen">("serial");
  const vm = store.get("vm", vmRef);
  if (!vm) return <p class="muted">{store.connected ? "No such VM (it may have been deleted)." : "Loading…"}</p>;
  const host = store.get("host", vm.resident_on);
  const metrics = store.get("vm_metrics", vm.metrics);
  const consoles = (vm.consoles || []).map((r: string) => store.get("console", r)).filter(Boolean) as store.Rec[];
  const vt100 = consoles.find((c) => c.protocol === "vt100");
  const rfb = consoles.find((c) => c.protocol === "rfb");
  const live = vm.power_state === "Running" || vm.power_state === "Paused";
  return (
    <div class="page vm">
      <h1>
        <span class={"dot " + vm.power_state} aria-hidden="true" /> <span id="vm-name">{vm.name_label}</span>{" "}
        <span class="state" id="vm-state">
          {vm.power_state}
        </span>
      </h1>
      <p class="muted">{vm.name_description}</p>
      {perms.canAct && (
        <div class="actions" role="toolbar" aria-label="VM actions">
          {actions
            .filter((a) => allowed(vm, a.op))
            .map((a) => (
              <button type="button" key={a.op} disabled={busy} onClick={() => (!a.confirm || confirm(a.confirm)) && run(() => a.run(vm))}>
                {a.label}
              </button>
            ))}
          {vm.power_state === "Halted" && (
            <a class="button" href={`/export?uuid=${encodeURIComponent(vm.uuid)}&session_id=${encodeURIComponent(getSession())}`} download={`${vm.name_label}.xva`}>
              Export
            </a>
          )}
          {vm.power_state === "Halted" && (
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() =>
                confirm(`Delete ${vm.name_label} and its disks?`) &&
                run(async () => {
                  await destroyVm(vm);
                  location.hash = href("vms");
                })
              }
            >
              Delete
            </button>
          )}
        </div>
      )}
      {perms.canAct && live && <Migrate vm={vm} />}
      <ErrorBox error={error} onClose={clear} />
      <div class="cards">
        <Card title="General" id="general">
          <dl>
            <dt>UUID</dt>
            <dd>{vm.uuid}</dd>
            <dt>Host</dt>
            <dd>{host ? <a href={href("host", host._ref)}>{host.name_label}</a> : "—"}</dd>
            <dt>Memory</dt>
            <dd>{bytes(vm.memory_static_max)}</dd>
            <dt>vCPUs</dt>
            <dd>{vm.VCPUs_at_startup}</dd>
            <dt>Started</dt>
            <dd>{live ? when(metrics?.start_time) : "—"}</dd>
          </dl>
        </Card>
      </div>
      {live && (
        <section class="card consoles" aria-label="Consoles">
          <div
            role="tablist"
            aria-label="Console"
            onKeyDown={(e) => {
              // arrows move between the tabs, as the ARIA tabs pattern has it
              if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
              const next = tab === "serial" ? "screen" : "serial";
              setTab(next);
              (e.currentTarget.querySelector(`#tab-${next}`) as HTMLElement | null)?.focus();
            }}
          >
            <button type="button" role="tab" id="tab-serial" aria-controls="serial-panel" aria-selected={tab === "serial"} tabIndex={tab === "serial" ? 0 : -1} onClick={() => setTab("serial")}>
              Serial console
            </button>
            <button type="button" role="tab" id="tab-screen" aria-controls="screen-panel" aria-selected={tab === "screen"} tabIndex={tab === "screen" ? 0 : -1} onClick={() => setTab("screen")}>
              Screen
            </button>
          </div>
          <div role="tabpanel" id="serial-panel" aria-labelledby="tab-serial" hidden={tab !== "serial"}>
            {vt100 ? <Lazy key={vt100._ref} load={loadSerial} props={{ uuid: vt100.uuid }} /> : <p class="muted">This VM has no serial console.</p>}
          </div>
          <div role="tabpanel" id="screen-panel" aria-labelledby="tab-screen" hidden={tab !== "screen"}>
            {tab === "screen" && (rfb ? <Lazy key={rfb._ref} load={loadScreen} props={{ uuid: rfb.uuid, viewOnly: !perms.canAct }} /> : <p class="muted">This VM has no screen.</p>)}
          </div>
        </section>
      )}
      <Lazy load={loadCharts} props={{ vm, host: vm.resident_on }} />
      <div class="cards">
        <Disks vm={vm} />
        <Nics vm={vm} />
        {perms.canAct && vm.power_state === "Running" && <GuestTools vm={vm} />}
        <Snapshots vm={vm} />
      </div>
    </div>
  );
}
