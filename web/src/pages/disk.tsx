// Browse a disk: what VDI.inspect finds on a VDI (partition tables,
// filesystems, operating systems) and a directory browser over one of its
// filesystems (VDI.list_directory), a file downloaded through GET /vdi_file.
// The first call starts the inspection appliance, which takes a while.
import { useEffect, useState } from "preact/hooks";
import { call, getSession } from "../api";
import * as store from "../store";
import { bytes } from "../format";
import { Card, ErrorBox, href } from "../ui";

type Report = {
  disks: { device: string; partition_table: string; size: number; partitions: any[] }[];
  filesystems: { device: string; type: string; label: string; uuid: string; size: number; used: number }[];
  operating_systems: Record<string, any>[];
};

type Entry = { name: string; type: string; size: number | string; mode: number | string; target?: string };

function join(dir: string, name: string): string {
  return (dir.endsWith("/") ? dir : dir + "/") + name;
}

function parent(dir: string): string {
  const i = dir.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : dir.slice(0, i);
}

export function fileUrl(vdi: string, fs: string, path: string): string {
  const q = new URLSearchParams({ session_id: getSession(), vdi, path });
  if (fs) q.set("filesystem", fs);
  return "/vdi_file?" + q.toString();
}

export function DiskPage({ vdiRef }: { vdiRef: string }) {
  store.useStore();
  const vdi = store.get("vdi", vdiRef);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fs, setFs] = useState<string | null>(null);
  const [dir, setDir] = useState("/");
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [listing, setListing] = useState(false);

  useEffect(() => {
    let gone = false;
    setError(null);
    call("VDI.inspect", vdiRef).then(
      (r: Report) => {
        if (gone) return;
        setReport(r);
        // the operating system's root when one is found ("" mounts it as
        // the guest does), else the first filesystem
        const fss = r.filesystems.filter((f) => f.type && f.type !== "swap" && f.type !== "unknown");
        setFs(r.operating_systems.length ? "" : fss.length ? fss[0].device : null);
      },
      (e) => !gone && setError(e),
    );
    return () => {
      gone = true;
    };
  }, [vdiRef]);

  useEffect(() => {
    if (fs === null) return;
    let gone = false;
    setListing(true);
    setError(null);
    call("VDI.list_directory", vdiRef, fs, dir).then(
      (l: Entry[]) => {
        if (gone) return;
        setEntries([...l].sort((a, b) => a.name.localeCompare(b.name)));
        setListing(false);
      },
      (e) => {
        if (gone) return;
        setError(e);
        setListing(false);
      },
    );
    return () => {
      gone = true;
    };
  }, [vdiRef, fs, dir]);

  const name = vdi ? vdi.name_label : vdiRef;
  return (
    <div class="page" data-page="disk">
      <h1>Browse disk: {name}</h1>
      {vdi && store.get("sr", vdi.SR) && (
        <p>
          On <a href={href("sr", vdi.SR)}>{store.get("sr", vdi.SR)!.name_label}</a>, {bytes(vdi.virtual_size)}
        </p>
      )}
      <ErrorBox error={error} onClose={() => setError(null)} />
      {!report && !error && <p class="muted" role="status">Inspecting the disk (the first look starts the inspection appliance)…</p>}
      {report && (
        <Card title="Inspection" id="inspection">
          <table class="grid" aria-label="Partitions">
            <thead>
              <tr>
                <th scope="col">Disk</th>
                <th scope="col">Table</th>
                <th scope="col">Partition</th>
                <th scope="col">Start</th>
                <th scope="col">Size</th>
                <th scope="col">Type</th>
              </tr>
            </thead>
            <tbody>
              {report.disks.flatMap((d) =>
                (d.partitions.length ? d.partitions : [null]).map((p, i) => (
                  <tr key={d.device + i}>
                    <td>{d.device}</td>
                    <td>{d.partition_table || "none"}</td>
                    <td>{p ? p.number : "—"}</td>
                    <td>{p ? bytes(p.start) : ""}</td>
                    <td>{bytes(p ? p.size : d.size)}</td>
                    <td>{p ? p.type : ""}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
          <table class="grid" aria-label="Filesystems">
            <thead>
              <tr>
                <th scope="col">Filesystem</th>
                <th scope="col">Type</th>
                <th scope="col">Label</th>
                <th scope="col">UUID</th>
                <th scope="col">Size</th>
                <th scope="col">Used</th>
                <th scope="col"></th>
              </tr>
            </thead>
            <tbody>
              {report.filesystems.map((f) => (
                <tr key={f.device} data-device={f.device}>
                  <td>{f.device}</td>
                  <td>{f.type}</td>
                  <td>{f.label}</td>
                  <td>{f.uuid}</td>
                  <td>{Number(f.size) >= 0 ? bytes(f.size) : ""}</td>
                  <td>{Number(f.used) >= 0 ? bytes(f.used) : ""}</td>
                  <td>
                    {Number(f.size) >= 0 && (
                      <button type="button" onClick={() => { setFs(f.device); setDir("/"); }} aria-pressed={fs === f.device}>
                        Browse
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {report.operating_systems.length === 0 ? (
            <p class="muted" data-os="none">No operating system found.</p>
          ) : (
            <dl class="facts" aria-label="Operating system">
              {report.operating_systems.map((o) => (
                <>
                  <dt>{o.root}</dt>
                  <dd data-os={o.distro}>
                    {o.product_name || o.distro} ({o.type} {o.major_version}.{o.minor_version})
                    {o.hostname ? `, hostname ${o.hostname}` : ""}
                    {Number(o.applications) > 0 ? `, ${o.applications} applications` : ""}
                    {report.operating_systems.length && (
                      <button type="button" onClick={() => { setFs(""); setDir("/"); }} aria-pressed={fs === ""}>
                        Browse as mounted
                      </button>
                    )}
                  </dd>
                </>
              ))}
            </dl>
          )}
        </Card>
      )}
      {fs !== null && (
        <Card title="Files" id="files">
          <p>
            <span class="muted">{fs || "the operating system's root"}</span>{" "}
            <strong data-dir={dir}>{dir}</strong>{" "}
            {dir !== "/" && (
              <button type="button" onClick={() => setDir(parent(dir))}>
                Up
              </button>
            )}
            {listing && <span class="muted" role="status"> listing…</span>}
          </p>
          <table class="grid" aria-label="Directory">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col"></th>
              </tr>
            </thead>
            <tbody>
              {(entries || []).map((e) => (
                <tr key={e.name} data-name={e.name}>
                  <td>
                    {e.type === "directory" ? (
                      <a href="#" onClick={(ev) => { ev.preventDefault(); setDir(join(dir, e.name)); }}>
                        {e.name}/
                      </a>
                    ) : (
                      e.name
                    )}
                    {e.type === "symlink" && e.target ? ` → ${e.target}` : ""}
                  </td>
                  <td>{e.type}</td>
                  <td>{e.type === "file" ? bytes(e.size) : ""}</td>
                  <td>
                    {e.type === "file" && (
                      <a class="button" href={fileUrl(vdiRef, fs, join(dir, e.name))} download={e.name}>
                        Download
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  );
}
