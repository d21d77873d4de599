// A VM's CPU, memory, disk and network from /rrd_updates of its host, at
// 5 s, 1 min, 1 h or 1 day per point.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import * as store from "./store";
import { serverNow, updates, Series } from "./rrd";
import { bytes } from "./format";

// Each span stays inside its archive (xapi's RRAs: 120 × 5 s, 120 × 1 min,
// 168 × 1 h, 366 × 1 day): a start older than the archive holds makes the
// server answer from the next coarser one.
const ranges = [
  { label: "5 s", interval: 5, span: 5 * 60 },
  { label: "1 min", interval: 60, span: 3600 },
  { label: "1 h", interval: 3600, span: 6 * 86400 },
  { label: "1 day", interval: 86400, span: 360 * 86400 },
];

interface Chart {
  id: string;
  title: string;
  pick: (s: Series, uuid: string) => Line[]; // one array per line
  lines: string[];
  fmt: (v: number) => string;
}

// The sum of the VM's columns whose name matches, null where none has a
// value (before the VM ran, or no such source).
type Line = (number | null)[];
function sum(s: Series, uuid: string, re: RegExp): Line {
  const out: Line = s.times.map(() => null);
  for (const [k, col] of s.cols) {
    const [kind, u, name] = k.split(":");
    if (kind === "vm" && u === uuid && re.test(name))
      col.forEach((v, i) => {
        if (isFinite(v)) out[i] = (out[i] ?? 0) + v;
      });
  }
  return out;
}
function avg(s: Series, uuid: string, re: RegExp): Line {
  let n = 0;
  for (const k of s.cols.keys()) {
    const [kind, u, name] = k.split(":");
    if (kind === "vm" && u === uuid && re.test(name)) n++;
  }
  return sum(s, uuid, re).map((v) => (v === null || !n ? null : (v / n) * 100));
}
function minus(a: Line, b: Line, scale: number): Line {
  return a.map((v, i) => (v === null ? null : v - (b[i] ?? 0) * scale));
}

const charts: Chart[] = [
  { id: "cpu", title: "CPU", lines: ["CPU %"], pick: (s, u) => [avg(s, u, /^cpu\d+$/)], fmt: (v) => v.toFixed(1) + " %" },
  { id: "memory", title: "Memory", lines: ["Used"], pick: (s, u) => [minus(sum(s, u, /^memory$/), sum(s, u, /^memory_internal_free$/), 1024)], fmt: bytes },
  { id: "disk", title: "Disk", lines: ["Read/s", "Write/s"], pick: (s, u) => [sum(s, u, /^vbd_.*_read$/), sum(s, u, /^vbd_.*_write$/)], fmt: (v) => bytes(v) + "/s" },
  { id: "network", title: "Network", lines: ["Received/s", "Sent/s"], pick: (s, u) => [sum(s, u, /^vif_.*_rx$/), sum(s, u, /^vif_.*_tx$/)], fmt: (v) => bytes(v) + "/s" },
];

function Plot({ c, data, width }: { c: Chart; data: Line[]; width: number }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const colors = ["#2f7ed8", "#e4572e"];
    plot.current = new uPlot(
      {
        width,
        height: 160,
        series: [{}, ...c.lines.map((l, i) => ({ label: l, stroke: colors[i], width: 1.5, value: (_u: uPlot, v: number | null) => (v == null ? "—" : c.fmt(v)) }))],
        axes: [{ stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" } }, { stroke: "currentColor", size: 70, grid: { stroke: "rgba(128,128,128,.2)" }, values: (_u: uPlot, vals: number[]) => vals.map(c.fmt) }],
        scales: { x: { time: true } },
      },
      data as uPlot.AlignedData,
      el.current!,
    );
    return () => plot.current?.destroy();
  }, [width]);
  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);
  // points: readings of the first line that have a value
  const points = (data[1] || []).filter((v) => v !== null && isFinite(v)).length;
  return (
    <figure class="chart" id={"chart-" + c.id} data-points={points}>
      <figcaption>
        {c.title} <span class="muted">({points} points)</span>
      </figcaption>
      <div ref={el} />
    </figure>
  );
}

export function VmCharts({ vm, host }: { vm: store.Rec; host: string }) {
  const [range, setRange] = useState(0);
  const [series, setSeries] = useState<Series | null>(null);
  const [err, setErr] = useState("");
  const hostRef = host && host !== "OpaqueRef:NULL" ? host : store.all("host")[0]?._ref;
  const live = vm.power_state === "Running" || vm.power_state === "Paused";
  useEffect(() => {
    let alive = true;
    const r = ranges[range];
    const tick = async () => {
      try {
        const now = await serverNow(hostRef);
        const s = await updates(hostRef, { start: now - r.span, interval: r.interval, vm: vm.uuid });
        if (alive) {
          setSeries(s);
          setErr("");
        }
      } catch (e) {
        if (alive) setErr(String(e));
      }
    };
    tick();
    // a halted VM's history does not change: read it once
    const t = live ? setInterval(tick, Math.max(5, Math.min(r.interval, 60)) * 1000) : undefined;
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [range, vm.uuid, hostRef, live]);
  const width = Math.max(260, Math.min(560, (document.querySelector("main")?.clientWidth || 800) / 2 - 40));
  return (
    <section class="card charts" aria-label="Charts">
      <h2>Charts</h2>
      <div role="group" aria-label="Resolution">
        {ranges.map((r, i) => (
          <button type="button" key={r.label} aria-pressed={range === i} onClick={() => setRange(i)}>
            {r.label}
          </button>
        ))}
      </div>
      {err && <p class="muted">No metrics for this VM yet.</p>}
      <div class="chart-grid">
        {charts.map((c) => {
          const data: Line[] = series ? [series.times, ...c.pick(series, vm.uuid)] : [[], ...c.lines.map(() => [])];
          return <Plot key={c.id + range} c={c} data={data} width={width} />;
        })}
      </div>
    </section>
  );
}
