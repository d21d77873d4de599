// Import: an XVA, OVA or VMDK dropped here (or chosen) goes up as PUT
// /import with a task of its own; the bar shows the upload, the task's
// end says how it went, and the new VM comes in through the store.
import { useState } from "preact/hooks";
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

export function Import() {
  const [ups, setUps] = useState<Upload[]>([]);
  const [over, setOver] = useState(false);
  const update = (u: Upload) => setUps((l) => l.map((x) => (x.task === u.task ? { ...u } : x)));
  const start = async (file: File) => {
    const task: string = await call("task.create", "Import " + file.name, "");
    const u: Upload = { name: file.name, size: file.size, sent: 0, task, done: false };
    setUps((l) => [u, ...l]);
    const q = new URLSearchParams({ session_id: getSession(), task_id: task });
    if (/\.(vmdk|vhd|qcow2|img|raw)$/i.test(file.name)) q.set("name_label", file.name.replace(/\.[^.]*$/, ""));
    try {
      await put("/import?" + q.toString(), file, (n) => update(Object.assign(u, { sent: n })));
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
    update(u);
  };
  const files = (l: FileList | null | undefined) => Array.from(l || []).forEach(start);
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
        setOver(false);
        files(e.dataTransfer?.files);
      }}
    >
      <label>
        Import an XVA, OVA or VMDK: drop it here or choose it
        <input type="file" name="import" accept=".xva,.ova,.vmdk,.tar" onChange={(e) => files(e.currentTarget.files)} />
      </label>
      <ul class="plain">
        {ups.map((u) => {
          const vm = store.get("vm", u.vm);
          return (
            <li key={u.task} class="upload" data-done={u.done ? "yes" : "no"}>
              {u.name} ({bytes(u.size)}){" "}
              <progress max={u.size || 1} value={u.sent} aria-label={`Upload of ${u.name}`} /> {u.size ? Math.floor((u.sent / u.size) * 100) : 100} %
              {u.done && !u.error && <span> imported{vm ? <>: <a href={href("vm", vm._ref)}>{vm.name_label}</a></> : ""}</span>}
              {u.error ? <ErrorBox error={u.error} /> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
