// Import: an XVA, OVA or VMDK dropped on the page (anywhere: main.tsx
// hands it to importFile) or chosen goes up as PUT /import with a task of
// its own; the bar shows the upload, the task's end says how it went, and
// the new VM comes in through the store.
import { useEffect, useState } from "preact/hooks";
import * as store from "../store";
import { call, getSession, XenAPIError } from "../api";
import { bytes } from "../format";
import { ErrorBox, href } from "../ui";

interface Upload {
  name: string;
  size: number;
  sent: number;
  task: string;
  done: boolean;
  vm?: string;
  error?: unknown;
}

function put(url: string, file: File, onProgress: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("PUT", url);
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => (x.status >= 200 && x.status < 300 ? resolve() : reject(new XenAPIError("HTTP_" + x.status, [x.responseText.slice(0, 200)])));
    x.onerror = () => reject(new XenAPIError("HTTP_ERROR", ["the upload was cut"]));
    x.send(file);
  });
}

// The uploads of this page, whichever page started them.
let uploads: Upload[] = [];
const listeners = new Set<() => void>();
function changed() {
  uploads = uploads.slice();
  listeners.forEach((f) => f());
}
function useUploads(): Upload[] {
  const [, setN] = useState(0);
  useEffect(() => {
    const f = () => setN((n) => n + 1);
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return uploads;
}

export async function importFile(file: File) {
  const u: Upload = { name: file.name, size: file.size, sent: 0, task: "", done: false };
  uploads = [u, ...uploads];
  changed();
  try {
    u.task = await call("task.create", "Import " + file.name, "");
  } catch (e) {
    u.error = e;
    u.done = true;
    changed();
    return;
  }
  const task = u.task;
  const q = new URLSearchParams({ session_id: getSession(), task_id: task });
  if (/\.(vmdk|vhd|qcow2|img|raw)$/i.test(file.name)) q.set("name_label", file.name.replace(/\.[^.]*$/, ""));
  try {
    await put("/import?" + q.toString(), file, (n) => {
      u.sent = n;
      changed();
    });
    u.sent = file.size;
  } catch (e) {
    u.error = e;
  }
  try {
    const rec = await call("task.get_record", task);
    if (rec.status === "failure") u.error = new XenAPIError(String(rec.error_info[0]), rec.error_info.slice(1).map(String));
    const m = /OpaqueRef:[0-9a-f-]+/.exec(String(rec.result || ""));
    if (m) u.vm = m[0];
    await call("task.destroy", task);
  } catch (e) {
    u.error = u.error || e;
  }
  u.done = true;
  changed();
}

function UploadList({ ups }: { ups: Upload[] }) {
  store.useStore();
  return (
    <ul class="plain">
      {ups.map((u, i) => {
        const vm = store.get("vm", u.vm);
        return (
          <li key={u.task || "u" + i} class="upload" data-done={u.done ? "yes" : "no"}>
            {u.name} ({bytes(u.size)}){" "}
            <progress max={u.size || 1} value={u.sent} aria-label={`Upload of ${u.name}`} /> {u.size ? Math.floor((u.sent / u.size) * 100) : 100} %
            {u.done && !u.error && <span> imported{vm ? <>: <a href={href("vm", vm._ref)}>{vm.name_label}</a></> : ""}</span>}
            {u.error ? <ErrorBox error={u.error} /> : null}
          </li>
        );
      })}
    </ul>
  );
}

// The uploads on pages without the import card (a file dropped there).
export function Imports() {
  const ups = useUploads();
  if (!ups.length) return null;
  return (
    <section class="card imports" aria-label="Imports">
      <UploadList ups={ups} />
      {ups.every((u) => u.done) && (
        <button
          type="button"
          onClick={() => {
            uploads = [];
            changed();
          }}
        >
          Clear imports
        </button>
      )}
    </section>
  );
}

export function Import() {
  const ups = useUploads();
  const [over, setOver] = useState(false);
  const files = (l: FileList | null | undefined) => Array.from(l || []).forEach(importFile);
  return (
    <section
      class={"card import" + (over ? " over" : "")}
      aria-label="Import"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        e.stopPropagation();
        document.body.classList.remove("drop-over");
        setOver(false);
        files(e.dataTransfer?.files);
      }}
    >
      <label>
        Import an XVA, OVA or VMDK: drop it here (or anywhere on the page) or choose it
        <input type="file" name="import" accept=".xva,.ova,.vmdk,.tar" onChange={(e) => files(e.currentTarget.files)} />
      </label>
      <UploadList ups={ups} />
    </section>
  );
}
