// One VM: its state and actions, consoles, charts, disks, NICs, snapshots.
import { useEffect, useState } from "preact/hooks";
import { ComponentType } from "preact";
import * as store from "../store";
import { asyncCall, call, getSession } from "../api";
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
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
  );
}

function Nics({ vm }: { vm: store.Rec }) {
  const vifs = (vm.VIFs || []).map((r: string) => store.get("vif", r)).filter(Boolean) as store.Rec[];
  return (
    <Card title="Network interfaces" id="nics">
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">MAC</th>
            <th scope="col">Network</th>
          </tr>
        </thead>
        <tbody>
          {vifs.map((v) => {
            const n = store.get("network", v.network);
            return (
              <tr key={v._ref}>
                <td>{v.device}</td>
                <td>{v.MAC}</td>
                <td>{n ? <a href={href("network", n._ref)}>{n.name_label}</a> : ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Card>
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
        <Snapshots vm={vm} />
      </div>
    </div>
  );
}
