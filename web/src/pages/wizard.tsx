// A new VM from a template: name, CPUs and memory, its first disk (the
// template's provisioning spec with the size and SR chosen here), a NIC
// and an ISO in its CD drive.
import { useState } from "preact/hooks";
import * as store from "../store";
import { call } from "../api";
import { bytes, byName } from "../format";
import { ErrorBox, href, perms, useAction } from "../ui";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const NULL = "OpaqueRef:NULL";

function templateDisk(t: store.Rec): number {
  const m = /size="(\d+)"/.exec(t.other_config?.disks || "");
  return m ? Number(m[1]) : 0;
}

export function Wizard() {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const templates = store.all("vm").filter((v) => v.is_a_template && !v.is_a_snapshot).sort(byName);
  const srs = store.all("sr").filter((s) => s.content_type !== "iso" && (s.allowed_operations || []).includes("vdi_create"));
  const isoSrs = new Set(store.all("sr").filter((s) => s.content_type === "iso").map((s) => s._ref));
  const isos = store.all("vdi").filter((v) => isoSrs.has(v.SR));
  const nets = store.all("network");
  const pool = store.all("pool")[0];
  const [tpl, setTpl] = useState("");
  const [name, setName] = useState("");
  const [vcpus, setVcpus] = useState(1);
  const [mem, setMem] = useState(1024);
  const [disk, setDisk] = useState(-1);
  const [sr, setSr] = useState("");
  const [net, setNet] = useState("");
  const [iso, setIso] = useState("");
  const [made, setMade] = useState("");
  if (!perms.canAct) return <p>Your role may not create VMs.</p>;
  const t = store.get("vm", tpl);
  const tDisk = t ? templateDisk(t) : 0;
  const diskGiB = disk >= 0 ? disk : Math.round(tDisk / GiB);
  const srRef = sr || (pool && pool.default_SR !== NULL ? pool.default_SR : srs[0]?._ref) || "";
  const netRef = net || nets[0]?._ref || "";
  const create = async () => {
    if (!t) throw new Error("Choose a template.");
    if (!name.trim()) throw new Error("Give the VM a name.");
    const vm = await call("VM.clone", t._ref, name.trim());
    try {
      if (t.other_config?.disks) {
        const spec = diskGiB > 0 ? `<provision><disk device="0" size="${diskGiB * GiB}" sr="${srRef ? store.get("sr", srRef)?.uuid || "" : ""}" bootable="true" type="system"/></provision>` : "<provision/>";
        await call("VM.remove_from_other_config", vm, "disks");
        await call("VM.add_to_other_config", vm, "disks", spec);
      }
      await call("VM.provision", vm);
      await call("VM.set_is_a_template", vm, false);
      const bytesMem = mem * MiB;
      await call("VM.set_memory_limits", vm, Math.min(bytesMem, Number(t.memory_static_min) || bytesMem), bytesMem, bytesMem, bytesMem);
      await call("VM.set_VCPUs_max", vm, vcpus);
      await call("VM.set_VCPUs_at_startup", vm, vcpus);
      if (netRef) {
        await call("VIF.create", { device: "0", network: netRef, VM: vm, MAC: "", MTU: 1500, other_config: {}, qos_algorithm_type: "", qos_algorithm_params: {} });
      }
      if (iso) {
        await call("VBD.create", { VM: vm, VDI: iso, userdevice: "3", bootable: false, mode: "RO", type: "CD", empty: false, unpluggable: true, other_config: {}, qos_algorithm_type: "", qos_algorithm_params: {} });
      }
    } catch (e) {
      // leave nothing half-made
      const rec = await call("VM.get_record", vm).catch(() => null);
      for (const vbd of rec?.VBDs || []) {
        const b = await call("VBD.get_record", vbd).catch(() => null);
        if (b && b.type === "Disk" && b.VDI !== NULL) await call("VDI.destroy", b.VDI).catch(() => {});
      }
      await call("VM.destroy", vm).catch(() => {});
      throw e;
    }
    setMade(vm);
  };
  return (
    <div class="page wizard">
      <h1>New VM</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(create);
        }}
      >
        <fieldset>
          <legend>Template and name</legend>
          <label>
            Template
            <select value={tpl} onChange={(e) => { setTpl(e.currentTarget.value); setDisk(-1); }} required name="template">
              <option value="">Choose…</option>
              {templates.map((x) => (
                <option key={x._ref} value={x._ref}>
                  {x.name_label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
        </fieldset>
        <fieldset>
          <legend>CPU and memory</legend>
          <label>
            vCPUs
            <input name="vcpus" type="number" min={1} max={64} value={vcpus} onInput={(e) => setVcpus(Number(e.currentTarget.value))} />
          </label>
          <label>
            Memory (MiB)
            <input name="memory" type="number" min={64} step={64} value={mem} onInput={(e) => setMem(Number(e.currentTarget.value))} />
          </label>
          <span class="muted">{bytes(mem * MiB)}</span>
        </fieldset>
        <fieldset>
          <legend>Disk, network and install media</legend>
          <label>
            Disk size (GiB, 0 for none)
            <input name="disk" type="number" min={0} value={diskGiB} onInput={(e) => setDisk(Number(e.currentTarget.value))} />
          </label>
          <label>
            Storage
            <select name="sr" value={srRef} onChange={(e) => setSr(e.currentTarget.value)}>
              {srs.map((s) => (
                <option key={s._ref} value={s._ref}>
                  {s.name_label} ({bytes(Number(s.physical_size) - Number(s.physical_utilisation))} free)
                </option>
              ))}
            </select>
          </label>
          <label>
            Network
            <select name="network" value={netRef} onChange={(e) => setNet(e.currentTarget.value)}>
              <option value="">None</option>
              {nets.map((n) => (
                <option key={n._ref} value={n._ref}>
                  {n.name_label}
                </option>
              ))}
            </select>
          </label>
          <label>
            ISO
            <select name="iso" value={iso} onChange={(e) => setIso(e.currentTarget.value)}>
              <option value="">None</option>
              {isos.map((v) => (
                <option key={v._ref} value={v._ref}>
                  {v.name_label}
                </option>
              ))}
            </select>
          </label>
        </fieldset>
        <button type="submit" class="primary" disabled={busy}>
          Create VM
        </button>
      </form>
      <ErrorBox error={error} onClose={clear} />
      {made && (
        <p role="status">
          Created <a href={href("vm", made)}>{store.get("vm", made)?.name_label || name}</a>.
        </p>
      )}
    </div>
  );
}
