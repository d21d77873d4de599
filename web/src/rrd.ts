// /rrd_updates as JSON, with start taken from the host's clock
// (host.get_servertime), never the browser's. Always from this origin: in
// a pool the master relays a member's VMs (and a member's host figures,
// host_uuid) from that member.
import { call, getSession } from "./api";
import { xapiTime } from "./format";
import * as store from "./store";

const offsets = new Map<string, number>(); // host ref -> server minus browser, in s

export async function serverNow(host: string): Promise<number> {
  let off = offsets.get(host);
  if (off === undefined) {
    const t = xapiTime(await call("host.get_servertime", host));
    off = t ? t.getTime() / 1000 - Date.now() / 1000 : 0;
    offsets.set(host, off);
  }
  return Math.floor(Date.now() / 1000 + off);
}

export interface Series {
  times: number[]; // oldest first, s
  cols: Map<string, number[]>; // "vm:<uuid>:cpu0" -> values, same order
  step: number;
}

export async function updates(host: string, q: { start: number; interval: number; vm?: string; host?: boolean }): Promise<Series> {
  const p = new URLSearchParams({ session_id: getSession(), start: String(q.start), cf: "AVERAGE", interval: String(q.interval), json: "true" });
  if (q.host) {
    p.set("host", "true");
    // that host's own figures, relayed by this origin's host in a pool
    const h = store.get("host", host);
    if (h?.uuid) p.set("host_uuid", h.uuid);
  }
  if (q.vm) {
    p.set("vm_uuid", q.vm);
    p.set("relay", "true"); // read where the VM runs
  }
  const r = await fetch("/rrd_updates?" + p.toString(), { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error("rrd_updates: HTTP " + r.status);
  const j = await r.json();
  const legend: string[] = j.meta.legend;
  const rows: { t: number; values: (string | number)[] }[] = (j.data || []).slice().sort((a: any, b: any) => a.t - b.t);
  const cols = new Map<string, number[]>();
  legend.forEach((l, i) => {
    const key = l.split(":").slice(1).join(":");
    cols.set(key, rows.map((row) => Number(row.values[i])));
  });
  return { times: rows.map((row) => row.t), cols, step: j.meta.step };
}
