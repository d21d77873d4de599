// Every record the pages show, kept current by one event.from loop.
import { useEffect, useState } from "preact/hooks";
import { call, XenAPIError } from "./api";

export type Rec = Record<string, any> & { _ref: string };

const tables = new Map<string, Map<string, Rec>>();
let version = 0;
const listeners = new Set<() => void>();
let scheduled = false;
let running = false;
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
  stopper = new AbortController();
  let token = "";
  let failures = 0;
  while (running) {
    try {
      const r = await call("event.from", ["*"], token, 30.0);
      if (!running) break;
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
      if (!running) break;
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
