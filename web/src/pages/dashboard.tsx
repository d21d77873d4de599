import { useEffect, useState } from "preact/hooks";
import * as store from "../store";
import { bytes, pct, when } from "../format";
import { Card, href, Meter } from "../ui";
import { serverNow, updates } from "../rrd";
import { TaskRow } from "./tasks";

interface HostStats {
  cpu?: number; // 0..1
  free?: number; // bytes
}
const last = (col: number[] | undefined) => {
  for (let i = (col?.length || 0) - 1; i >= 0; i--) if (isFinite(col![i])) return col![i];
  return undefined;
};

// Each host's cpu_avg and memory_free_kib, their latest 5-s readings
// (a member's relayed by the master: rrd.ts asks with host_uuid).
export function useHostStats(hosts: store.Rec[]): Map<string, HostStats> {
  const [cpu, setCpu] = useState(new Map<string, HostStats>());
  const key = hosts.map((h) => h._ref).join(",");
  useEffect(() => {
    let alive = true;
    const tick = async () => {
      const m = new Map<string, HostStats>();
      for (const h of hosts) {
        try {
          const s = await updates(h._ref, { start: (await serverNow(h._ref)) - 60, interval: 5, host: true });
          const free = last(s.cols.get(`host:${h.uuid}:memory_free_kib`));
          m.set(h._ref, { cpu: last(s.cols.get(`host:${h.uuid}:cpu_avg`)), free: free === undefined ? undefined : free * 1024 });
        } catch {
          /* no metrics yet */
        }
      }
      if (alive) setCpu(m);
    };
    tick();
    const t = setInterval(tick, 5000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [key]);
  return cpu;
}

export function Dashboard() {
  store.useStore();
  const hosts = store.all("host");
  const stats = useHostStats(hosts);
  const vms = store.all("vm").filter((v) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot);
  const running = vms.filter((v) => v.power_state === "Running").length;
  const srs = store.all("sr").filter((s) => Number(s.physical_size) > 0);
  const used = srs.reduce((a, s) => a + Number(s.physical_utilisation || 0), 0);
  const size = srs.reduce((a, s) => a + Number(s.physical_size || 0), 0);
  const alarms = store.all("message").sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp)));
  const tasks = store.all("task").filter((t) => t.status === "pending");
  return (
    <div class="page dashboard">
      <h1>Dashboard</h1>
      <div class="cards">
        <Card title="Hosts" id="card-hosts">
          <ul class="plain">
            {hosts.map((h) => {
              const m = store.get("host_metrics", h.metrics);
              const st = stats.get(h._ref) || {};
              const total = Number(m?.memory_total || 0);
              // host_metrics.memory_free where the record has it, else the metrics' reading
              const free = m?.memory_free !== undefined ? Number(m.memory_free) : st.free;
              const c = st.cpu;
              return (
                <li key={h._ref} class="host-row">
                  <a href={href("host", h._ref)}>{h.name_label}</a>
                  <div class="stat">
                    CPU <span class="cpu-value">{c === undefined ? "—" : pct(c)}</span>
                    <Meter value={c || 0} label={`CPU of ${h.name_label}`} />
                  </div>
                  <div class="stat">
                    Memory <span class="mem-value">{free === undefined ? "—" : bytes(total - free)} of {bytes(total)}</span>
                    <Meter value={total && free !== undefined ? (total - free) / total : 0} label={`Memory of ${h.name_label}`} />
                  </div>
                </li>
              );
            })}
          </ul>
        </Card>
        <Card title="VMs" id="card-vms">
          <p class="big">
            <span id="vms-running">{running}</span> running
          </p>
          <p>
            <a href={href("vms")}>{vms.length} VMs in all</a>
          </p>
        </Card>
        <Card title="Storage" id="card-storage">
          <p class="big">{bytes(used)} used</p>
          <p>of {bytes(size)}</p>
          <Meter value={size ? used / size : 0} label="Storage used" />
        </Card>
        <Card title="Alarms" id="card-alarms">
          {alarms.length === 0 ? (
            <p class="muted">No alarms.</p>
          ) : (
            <ul class="plain">
              {alarms.slice(0, 10).map((m) => (
                <li key={m._ref}>
                  <strong>{m.name}</strong> <span class="muted">{when(m.timestamp)}</span>
                  <div>{m.body}</div>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Tasks" id="card-tasks">
          {tasks.length === 0 ? <p class="muted">No task running.</p> : <ul class="plain">{tasks.map((t) => <TaskRow key={t._ref} t={t} />)}</ul>}
          <a href={href("tasks")}>All tasks</a>
        </Card>
      </div>
    </div>
  );
}
