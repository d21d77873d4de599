// The XenAPI over JSON-RPC on the page's own origin, and its errors.

export class XenAPIError extends Error {
  constructor(public code: string, public params: string[]) {
    super(code + (params.length ? " " + params.join(" ") : ""));
  }
}

const KEY = "xenon.session";
let session: string = sessionStorage.getItem(KEY) || "";
let onLost: () => void = () => {};

export function getSession(): string {
  return session;
}
export function onSessionLost(f: () => void) {
  onLost = f;
}

let nextId = 1;
export async function rpc(method: string, params: unknown[], signal?: AbortSignal): Promise<any> {
  const r = await fetch("/jsonrpc", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method, params, id: nextId++ }),
    signal,
  });
  if (!r.ok) throw new XenAPIError("HTTP_" + r.status, [r.statusText]);
  const j = await r.json();
  if (j.error) {
    const e = new XenAPIError(String(j.error.message), (j.error.data || []).map(String));
    if (e.code === "SESSION_INVALID" && method !== "session.logout") onLost();
    throw e;
  }
  return j.result;
}

// A call with the session as its first argument.
export function call(method: string, ...args: unknown[]): Promise<any> {
  return rpc(method, [session, ...args]);
}

// The same with a signal that aborts it (the event loop's long poll).
export function callAbortable(signal: AbortSignal, method: string, ...args: unknown[]): Promise<any> {
  return rpc(method, [session, ...args], signal);
}

export async function login(user: string, password: string): Promise<void> {
  session = await rpc("session.login_with_password", [user, password, "1.0", "xenon-web"]);
  sessionStorage.setItem(KEY, session);
}

export async function logout(): Promise<void> {
  const s = session;
  session = "";
  sessionStorage.removeItem(KEY);
  if (s) await rpc("session.logout", [s]).catch(() => {});
}

// May this session change things? The RBAC check comes before the
// reference is looked up, so a call on the null reference tells it
// without touching anything: RBAC_PERMISSION_DENIED for a read-only user,
// HANDLE_INVALID for one who may act.
export async function canAct(): Promise<boolean> {
  try {
    await call("VM.clean_shutdown", "OpaqueRef:NULL");
    return true;
  } catch (e) {
    return !(e instanceof XenAPIError && e.code === "RBAC_PERMISSION_DENIED");
  }
}

// An Async call followed to its end through the task records the event
// loop brings (no polling): resolves with the task's result, fails with
// its error (TASK_CANCELLED when cancelled).
let taskWatcher: (task: string) => Promise<any> = async () => undefined;
export function setTaskWatcher(f: (task: string) => Promise<any>) {
  taskWatcher = f;
}
export async function asyncCall(method: string, ...args: unknown[]): Promise<any> {
  const task: string = await call("Async." + method, ...args);
  return taskWatcher(task);
}

// Words for the errors a user meets most; any other shows its code and
// parameters as they are.
const words: Record<string, (p: string[]) => string> = {
  SESSION_AUTHENTICATION_FAILED: (p) => `Wrong user name or password for ${p[0] || "this user"}${p[1] ? ": " + p[1] : ""}.`,
  VM_BAD_POWER_STATE: (p) => `The VM is ${p[2] || "in another state"}; this needs it ${p[1] || "in another state"}.`,
  OPERATION_NOT_ALLOWED: (p) => `Not allowed: ${p.join(" ")}`,
  HANDLE_INVALID: (p) => `There is no ${p[0] || "object"} ${p[1] || ""} (it may have been deleted).`,
  RBAC_PERMISSION_DENIED: (p) => `Your role may not do this (${p[0] || "this call"}).`,
  SR_FULL: (p) => `The storage repository is full (asked ${p[0] || "?"} bytes, ${p[1] || "?"} free).`,
  VM_IS_TEMPLATE: () => "This is a template; make a VM from it first.",
  TASK_CANCELLED: () => "The task was cancelled.",
  HOST_NOT_ENOUGH_FREE_MEMORY: (p) => `The host has not enough free memory (needs ${p[0] || "?"}, has ${p[1] || "?"}).`,
  VALUE_NOT_SUPPORTED: (p) => `Value not supported: ${p.join(" ")}`,
  INVALID_VALUE: (p) => `Invalid value for ${p[0] || "a field"}: ${p[1] || ""}`,
  SESSION_INVALID: () => "The session ended; log in again.",
};

export function explain(e: unknown): { code: string; params: string[]; text: string } {
  if (e instanceof XenAPIError) {
    const w = words[e.code];
    return { code: e.code, params: e.params, text: w ? w(e.params) : e.params.join(" ") };
  }
  if (e instanceof Error) return { code: "ERROR", params: [], text: e.message };
  return { code: "ERROR", params: [], text: String(e) };
}
