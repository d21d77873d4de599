// The console's shell: login, the tree of the pool, the pages.
import "./app.css";
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getSession, may, rightsOf, login, logout, onSessionLost, call, asyncCall } from "./api";
import * as store from "./store";
import { ErrorBox, href, perms, useRoute } from "./ui";
import { Users } from "./pages/users";
import { byName } from "./format";
import { Dashboard } from "./pages/dashboard";
import { VmList } from "./pages/vmlist";
import { VmPage } from "./pages/vm";
import { DiskPage } from "./pages/disk";
import { Wizard } from "./pages/wizard";
import { Tasks } from "./pages/tasks";
import { HostPage, SrPage, NetworkPage, SrList, NetworkList } from "./pages/other";
import { Imports, importFile } from "./pages/import";

function applyTheme(t: string) {
  document.documentElement.dataset.theme = t;
  localStorage.setItem("xenon.theme", t);
}
applyTheme(localStorage.getItem("xenon.theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));

function Login({ onIn }: { onIn: () => void }) {
  const [user, setUser] = useState("root");
  const [pw, setPw] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await login(user, pw);
      onIn();
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-label="Log in">
        <h1>Xenon</h1>
        <label>
          User name
          <input name="username" autocomplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} autoFocus />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
        <ErrorBox error={err} />
      </form>
    </main>
  );
}

const TREE_MAX = 300;

// A VM dragged onto a host in the tree migrates there (VM.pool_migrate,
// after a confirmation); the VM page's Migrate form does the same from
// the keyboard.
const VM_DRAG = "application/x-xenon-vm";

async function migrate(vm: string, host: string) {
  await asyncCall("VM.pool_migrate", vm, host, { live: "true" });
}

function Tree() {
  store.useStore();
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [target, setTarget] = useState("");
  const [moving, setMoving] = useState<{ text: string; error?: unknown } | null>(null);
  const pools = store.all("pool");
  const hosts = store.all("host").sort(byName);
  const vms = store.all("vm").filter((v) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot);
  const byHost = new Map<string, store.Rec[]>();
  const elsewhere: store.Rec[] = [];
  for (const v of vms) {
    if (v.power_state === "Running" || v.power_state === "Paused") {
      const l = byHost.get(v.resident_on) || [];
      l.push(v);
      byHost.set(v.resident_on, l);
    } else elsewhere.push(v);
  }
  const master = pools[0]?.master;
  const live = (v: store.Rec) => v.power_state === "Running" || v.power_state === "Paused";
  const drop = (h: store.Rec) => (e: DragEvent) => {
    setTarget("");
    const ref = e.dataTransfer?.getData(VM_DRAG);
    if (!ref) return;
    e.preventDefault();
    e.stopPropagation();
    const v = store.get("vm", ref);
    if (!v || v.resident_on === h._ref) return;
    if (!confirm(`Migrate ${v.name_label} to ${h.name_label}?`)) return;
    setMoving({ text: `Migrating ${v.name_label} to ${h.name_label}…` });
    migrate(ref, h._ref).then(
      () => setMoving({ text: `${v.name_label} migrated to ${h.name_label}.` }),
      (err) => setMoving({ text: `Migrating ${v.name_label} failed.`, error: err }),
    );
  };
  const vmItem = (v: store.Rec) => (
    <li key={v._ref}>
      <a
        href={href("vm", v._ref)}
        data-power={v.power_state}
        draggable={perms.canAct && live(v)}
        onDragStart={(e) => {
          e.dataTransfer?.setData(VM_DRAG, v._ref);
          if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
        }}
      >
        <span class={"dot " + v.power_state} aria-hidden="true" />
        <span class="label">{v.name_label}</span>
        <span class="sr-only"> ({v.power_state})</span>
      </a>
    </li>
  );
  // past TREE_MAX items a branch links to the VM list instead
  const items = (list: store.Rec[], render: (r: store.Rec) => any) =>
    list.length > TREE_MAX ? (
      <li>
        <a href={href("vms")}>{list.length} VMs: open the list</a>
      </li>
    ) : (
      list.sort(byName).map(render)
    );
  const group = (key: string, label: string, list: store.Rec[], render: (r: store.Rec) => any) => {
    const isOpen = open[key] !== false;
    return (
      <li>
        <button type="button" class="twisty" aria-expanded={isOpen} onClick={() => setOpen({ ...open, [key]: !isOpen })}>
          {label} <span class="muted">({list.length})</span>
        </button>
        {isOpen && <ul>{items(list, render)}</ul>}
      </li>
    );
  };
  const pool = pools[0];
  return (
    <nav class="tree" aria-label="Pool">
      {moving && (
        <div class="moving" role="status">
          {moving.text}
          <ErrorBox error={moving.error} onClose={() => setMoving(null)} />
        </div>
      )}
      <ul>
        <li>
          <a href={href("dashboard")}>{pool ? pool.name_label || "Pool" : "Pool"}</a>
          <ul>
            {hosts.map((h) => (
              <li key={h._ref} data-host={h.name_label}>
                <a
                  href={href("host", h._ref)}
                  class={"host" + (target === h._ref ? " drop-target" : "")}
                  onDragOver={(e) => {
                    if (!perms.canAct || !e.dataTransfer?.types.includes(VM_DRAG)) return;
                    e.preventDefault();
                    e.stopPropagation();
                    e.dataTransfer.dropEffect = "move";
                    setTarget(h._ref);
                  }}
                  onDragLeave={() => setTarget("")}
                  onDrop={drop(h)}
                >
                  <span class="label">{h.name_label}</span>
                  {h._ref === master && <span class="badge">master</span>}
                  {!h.enabled && <span class="badge">maintenance</span>}
                </a>
                <ul>{items(byHost.get(h._ref) || [], vmItem)}</ul>
              </li>
            ))}
            {group("halted", "Other VMs", elsewhere, vmItem)}
            {group("srs", "Storage", store.all("sr"), (s) => (
              <li key={s._ref}>
                <a href={href("sr", s._ref)}>{s.name_label}</a>
              </li>
            ))}
            {group("nets", "Networks", store.all("network"), (n) => (
              <li key={n._ref}>
                <a href={href("network", n._ref)}>{n.name_label}</a>
              </li>
            ))}
          </ul>
        </li>
      </ul>
    </nav>
  );
}

function Shell({ user, onOut }: { user: string; onOut: () => void }) {
  const route = useRoute();
  store.useStore();
  const [fatal, setFatal] = useState<unknown>(null);
  useEffect(() => {
    store.start(setFatal);
    return () => store.stop();
  }, []);
  // a file dropped anywhere on the page is imported (pages/import.tsx)
  useEffect(() => {
    if (!perms.canAct) return;
    const files = (e: DragEvent) => !!e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
    const over = (e: DragEvent) => {
      if (!files(e)) return;
      e.preventDefault();
      e.dataTransfer!.dropEffect = "copy";
      document.body.classList.add("drop-over");
    };
    const leave = (e: DragEvent) => {
      if (!e.relatedTarget) document.body.classList.remove("drop-over");
    };
    const dropped = (e: DragEvent) => {
      document.body.classList.remove("drop-over");
      if (!files(e)) return;
      e.preventDefault();
      Array.from(e.dataTransfer!.files).forEach(importFile);
    };
    document.addEventListener("dragover", over);
    document.addEventListener("dragleave", leave);
    document.addEventListener("drop", dropped);
    return () => {
      document.removeEventListener("dragover", over);
      document.removeEventListener("dragleave", leave);
      document.removeEventListener("drop", dropped);
    };
  }, []);
  const [page, arg] = route;
  let body;
  switch (page) {
    case "vms": body = <VmList />; break;
    case "vm": body = <VmPage key={arg} vmRef={arg} />; break;
    case "disk": body = <DiskPage key={arg} vdiRef={arg} />; break;
    case "new-vm": body = <Wizard />; break;
    case "tasks": body = <Tasks />; break;
    case "host": body = <HostPage key={arg} hostRef={arg} />; break;
    case "sr": body = arg ? <SrPage key={arg} srRef={arg} /> : <SrList />; break;
    case "srs": body = <SrList />; break;
    case "network": body = arg ? <NetworkPage key={arg} netRef={arg} /> : <NetworkList />; break;
    case "networks": body = <NetworkList />; break;
    case "users": body = perms.admin ? <Users /> : <p class="muted">Users and roles are for pool administrators.</p>; break;
    default: body = <Dashboard />;
  }
  const [theme, setTheme] = useState(document.documentElement.dataset.theme || "light");
  const link = (p: string, label: string) => (
    <a href={href(p)} aria-current={page === p ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header>
        <a
          class="skip"
          href="#main"
          onClick={(e) => {
            // focus the content without touching the route in the hash
            e.preventDefault();
            document.getElementById("main")?.focus();
          }}
        >
          Skip to content
        </a>
        <span class="brand">Xenon</span>
        <nav class="top" aria-label="Pages">
          {link("dashboard", "Dashboard")}
          {link("vms", "VMs")}
          {perms.canAct && link("new-vm", "New VM")}
          {link("srs", "Storage")}
          {link("networks", "Networks")}
          {link("tasks", "Tasks")}
          {perms.admin && link("users", "Users")}
        </nav>
        <span class={"conn " + (store.connected ? "on" : "off")} role="status">
          {store.connected ? "Live" : "Connecting…"}
        </span>
        <button type="button" onClick={() => {
            const t = theme === "dark" ? "light" : "dark";
            applyTheme(t);
            setTheme(t);
          }} aria-label="Switch light or dark theme">
          {theme === "dark" ? "Light" : "Dark"} theme
        </button>
        <span class="user">{user}{perms.canAct ? "" : " (read-only)"}</span>
        <button type="button" onClick={onOut}>Log out</button>
      </header>
      <div class="body">
        <Tree />
        <main id="main" tabIndex={-1}>
          <ErrorBox error={fatal} />
          {page !== "vms" && <Imports />}
          {body}
        </main>
      </div>
    </div>
  );
}

function App() {
  const [state, setState] = useState<"checking" | "out" | "in">(getSession() ? "checking" : "out");
  const [user, setUser] = useState("");
  const enter = async () => {
    try {
      const rec = await call("session.get_record", getSession());
      setUser(rec.auth_user_name || "");
      const r = rightsOf(rec);
      perms.canAct = may(r, "VM.clean_shutdown");
      perms.admin = may(r, "subject.create");
      setState("in");
    } catch {
      await logout();
      setState("out");
    }
  };
  useEffect(() => {
    onSessionLost(() => {
      store.stop();
      logout();
      setState("out");
    });
    if (state === "checking") enter();
  }, []);
  if (state === "checking") return <p class="loading">Loading…</p>;
  if (state === "out") return <Login onIn={enter} />;
  return (
    <Shell
      user={user}
      onOut={async () => {
        store.stop();
        await logout();
        setState("out");
      }}
    />
  );
}

render(<App />, document.getElementById("app")!);
