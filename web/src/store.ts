// Every record the pages show, kept current by one event.from loop.
import { useEffect, useState } from "preact/hooks";
import { callAbortable, setTaskWatcher, XenAPIError } from "./api";

export type Rec = Record<string, any> & { _ref: string };

const tables = new Map<string, Map<string, Rec>>();
let version = 0;
const listeners = new Set<() => void>();
let scheduled = false;
let running = false;
let generation = 0; // one loop at a time: a loop from before a stop() ends on its next turn
let stopper: AbortController | null = null;
export let connected = false;

function table(cls: string): Map<string, Rec> {
  let t = tables.get(cls);
  if (!t) tables.set(cls, (t = new Map()));
  return t;
}

export function all(cls: string): Rec[] {
  return Array.from(table(cls).values());
}
export function get(cls: string, ref: string | undefined): Rec | undefined {
  return ref ? table(cls).get(ref) : undefined;
}
export function count(cls: string): number {
  return table(cls).size;
}

// Listeners hear once per frame however many events came in it.
function changed() {
  version++;
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const l of listeners) l();
  });
}

export function subscribe(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

// Re-renders the component whenever the store changes.
export function useStore(): number {
  const [v, setV] = useState(version);
  useEffect(() => subscribe(() => setV(version)), []);
  return v;
}

export interface XEvent {
  class: string;
  operation: string;
  ref: string;
  snapshot?: Record<string, any>;
}

export function apply(events: XEvent[]) {
  for (const e of events) {
    const t = table(e.class.toLowerCase());
    if (e.operation === "del") t.delete(e.ref);
    else if (e.snapshot) t.set(e.ref, { ...e.snapshot, _ref: e.ref });
  }
  if (events.length) changed();
}

// The loop: the first call (token "") brings every record, each next one
// what changed since. Lost events start it over.
export async function start(onFatal: (e: unknown) => void) {
  if (running) return;
  running = true;
  const mine = ++generation;
  const abort = (stopper = new AbortController());
  const live = () => running && generation === mine;
  let token = "";
  let failures = 0;
  while (live()) {
    try {
      const r = await callAbortable(abort.signal, "event.from", ["*"], token, 30.0);
      if (!live()) break;
      if (token === "") {
        tables.clear();
      }
      apply(r.events || []);
      token = r.token;
      failures = 0;
      if (!connected) {
        connected = true;
        changed();
      }
    } catch (e) {
      if (!live()) break;
      if (e instanceof XenAPIError && e.code === "EVENTS_LOST") {
        token = "";
        continue;
      }
      if (e instanceof XenAPIError && e.code === "SESSION_INVALID") {
        onFatal(e);
        break;
      }
      connected = false;
      changed();
      failures++;
      await new Promise((res) => setTimeout(res, Math.min(5000, 250 * failures)));
    }
  }
}

export function stop() {
  running = false;
  connected = false;
  stopper?.abort();
  tables.clear();
  changed();
}

// Resolves when the task succeeds (with its result), fails with its error.
function watchTask(task: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const t = get("task", task);
      if (!t || t.status === "pending" || t.status === "cancelling") return false;
      if (t.status === "success") resolve(t.result);
      else if (t.status === "cancelled") reject(new XenAPIError("TASK_CANCELLED", [task]));
      else {
        const info: string[] = (t.error_info || []).map(String);
        reject(new XenAPIError(info[0] || "TASK_FAILED", info.slice(1)));
      }
      return true;
    };
    if (check()) return;
    const off = subscribe(() => {
      if (check()) off();
    });
  });
}
setTaskWatcher(watchTask);
