// Hosts, storage and networks.
import { useState } from "preact/hooks";
import * as store from "../store";
import { asyncCall, call } from "../api";
import { bytes, byName, pct, when } from "../format";
import { Card, ErrorBox, href, Meter, perms, useAction } from "../ui";
import { useHostStats } from "./dashboard";

export function HostPage({ hostRef }: { hostRef: string }) {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const h = store.get("host", hostRef);
  const stats = useHostStats(h ? [h] : []);
  if (!h) return <p class="muted">Loading…</p>;
  const cpu = stats.get(hostRef)?.cpu;
  const m = store.get("host_metrics", h.metrics);
  const total = Number(m?.memory_total || 0);
  const free = m?.memory_free !== undefined ? Number(m.memory_free) : undefined;
  const vms = store.all("vm").filter((v) => v.resident_on === hostRef && !v.is_control_domain);
  const sw = h.software_version || {};
  const isMaster = store.all("pool")[0]?.master === hostRef;
  return (
    <div class="page host">
      <h1>
        {h.name_label} <span class="badge" id="host-role">{isMaster ? "pool master" : "pool member"}</span>
      </h1>
      {perms.canAct && (
        <div class="actions" role="toolbar" aria-label="Host actions">
          {h.enabled ? (
            <button type="button" disabled={busy} onClick={() => run(() => call("host.disable", hostRef))}>
              Enter maintenance mode
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => run(() => call("host.enable", hostRef))}>
              Leave maintenance mode
            </button>
          )}
          <button type="button" disabled={busy} onClick={() => run(() => asyncCall("host.evacuate", hostRef))}>
            Evacuate
          </button>
          <button type="button" disabled={busy} onClick={() => confirm("Restart the toolstack on this host?") && run(() => call("host.restart_agent", hostRef))}>
            Restart toolstack
          </button>
        </div>
      )}
      <ErrorBox error={error} onClose={clear} />
      <div class="cards">
        <Card title="System">
          <dl>
            <dt>Address</dt>
            <dd>{h.address}</dd>
            <dt>Version</dt>
            <dd>{sw.product_brand} {sw.product_version}</dd>
            <dt>CPUs</dt>
            <dd>{(h.host_CPUs || []).length}</dd>
            <dt>CPU used</dt>
            <dd>
              <span id="host-cpu">{cpu === undefined ? "—" : pct(cpu)}</span>
              {cpu !== undefined && <Meter value={cpu} label="CPU used" />}
            </dd>
            <dt>Memory</dt>
            <dd>
              {free === undefined ? bytes(total) : `${bytes(total - free)} used of ${bytes(total)}`}
              {free !== undefined && <Meter value={total ? (total - free) / total : 0} label="Memory used" />}
            </dd>
            <dt>Enabled</dt>
            <dd>{h.enabled ? "yes" : "no (maintenance)"}</dd>
          </dl>
        </Card>
        <Card title="Running VMs">
          <ul class="plain">
            {vms.map((v) => (
              <li key={v._ref}>
                <a href={href("vm", v._ref)}>{v.name_label}</a> <span class="muted">{v.power_state}</span>
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  );
}

// A new SR: an NFS share for disks, or a library of ISO images (a local
// directory, server:/path on NFS or //server/share on SMB).
function NewSr() {
  const [run, busy, error, clear] = useAction();
  const [kind, setKind] = useState<"iso" | "nfs">("iso");
  const [name, setName] = useState("");
  const [location, setLocation] = useState("");
  const [server, setServer] = useState("");
  const [path, setPath] = useState("");
  const [made, setMade] = useState("");
  const host = store.all("host")[0];
  const create = async () => {
    if (!name.trim()) throw new Error("Give the storage a name.");
    const dc = kind === "iso" ? { location: location.trim(), ...(location.trim().startsWith("/") ? { legacy_mode: "true" } : {}) } : { server: server.trim(), serverpath: path.trim() };
    const shared = kind === "nfs" || !location.trim().startsWith("/");
    const sr = await call("SR.create", host._ref, dc, "0", name.trim(), "", kind, kind === "iso" ? "iso" : "", shared, {});
    setMade(sr);
  };
  return (
    <Card title="New storage">
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          run(create);
        }}
      >
        <label>
          Type
          <select name="sr-type" value={kind} onChange={(e) => setKind(e.currentTarget.value as "iso" | "nfs")}>
            <option value="iso">ISO library</option>
            <option value="nfs">NFS (virtual disks)</option>
          </select>
        </label>
        <label>
          Storage name
          <input name="sr-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        {kind === "iso" ? (
          <label>
            Location (a directory, server:/path or //server/share)
            <input name="sr-location" value={location} onInput={(e) => setLocation(e.currentTarget.value)} required />
          </label>
        ) : (
          <>
            <label>
              NFS server
              <input name="sr-server" value={server} onInput={(e) => setServer(e.currentTarget.value)} required />
            </label>
            <label>
              Export path
              <input name="sr-path" value={path} onInput={(e) => setPath(e.currentTarget.value)} required />
            </label>
          </>
        )}
        <button type="submit" disabled={busy}>
          Create storage
        </button>
      </form>
      <ErrorBox error={error} onClose={clear} />
      {made && (
        <p role="status">
          Created <a href={href("sr", made)}>{store.get("sr", made)?.name_label || name}</a>.
        </p>
      )}
    </Card>
  );
}

export function SrList() {
  store.useStore();
  const srs = store.all("sr").sort(byName);
  return (
    <div class="page">
      <h1>Storage</h1>
      {perms.canAct && <NewSr />}
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Used</th>
            <th scope="col">Size</th>
          </tr>
        </thead>
        <tbody>
          {srs.map((s) => (
            <tr key={s._ref}>
              <td>
                <a href={href("sr", s._ref)}>{s.name_label}</a>
              </td>
              <td>{s.type}</td>
              <td>{bytes(s.physical_utilisation)}</td>
              <td>{bytes(s.physical_size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SrPage({ srRef }: { srRef: string }) {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const s = store.get("sr", srRef);
  if (!s) return <p class="muted">Loading…</p>;
  const vdis = store.all("vdi").filter((v) => v.SR === srRef).sort(byName);
  const size = Number(s.physical_size), used = Number(s.physical_utilisation);
  return (
    <div class="page">
      <h1>{s.name_label}</h1>
      <p>
        {s.type}, {bytes(used)} used of {bytes(size)}
      </p>
      <Meter value={size ? used / size : 0} label="Space used" />
      {perms.canAct && (
        <div class="actions" role="toolbar" aria-label="Storage actions">
          <button type="button" disabled={busy} onClick={() => run(() => asyncCall("SR.scan", srRef))}>
            Rescan
          </button>
        </div>
      )}
      <ErrorBox error={error} onClose={clear} />
      <Card title="Disks">
        <table class="grid">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Used</th>
              <th scope="col">Snapshot</th>
              <th scope="col"></th>
            </tr>
          </thead>
          <tbody>
            {vdis.map((v) => (
              <tr key={v._ref} data-name={v.name_label}>
                <td>{v.name_label}</td>
                <td>{bytes(v.virtual_size)}</td>
                <td>{bytes(v.physical_utilisation)}</td>
                <td>{v.is_a_snapshot ? when(v.snapshot_time) : ""}</td>
                <td>{v.type !== "iso" && <a href={href("disk", v._ref)}>Browse disk</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

function NewNetwork() {
  const [run, busy, error, clear] = useAction();
  const [name, setName] = useState("");
  const [mtu, setMtu] = useState(1500);
  return (
    <Card title="New network">
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            if (!name.trim()) throw new Error("Give the network a name.");
            await call("network.create", { name_label: name.trim(), name_description: "", MTU: mtu, other_config: {}, tags: [] });
            setName("");
          });
        }}
      >
        <label>
          Network name
          <input name="net-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          MTU
          <input name="net-mtu" type="number" min={68} max={9000} value={mtu} onInput={(e) => setMtu(Number(e.currentTarget.value))} />
        </label>
        <button type="submit" disabled={busy}>
          Create network
        </button>
      </form>
      <ErrorBox error={error} onClose={clear} />
    </Card>
  );
}

export function NetworkList() {
  store.useStore();
  return (
    <div class="page">
      <h1>Networks</h1>
      {perms.canAct && <NewNetwork />}
      <Pifs />
      <ul class="plain">
        {store.all("network").map((n) => (
          <li key={n._ref}>
            <a href={href("network", n._ref)}>{n.name_label}</a> <span class="muted">{n.bridge}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function NetworkPage({ netRef }: { netRef: string }) {
  store.useStore();
  const n = store.get("network", netRef);
  if (!n) return <p class="muted">Loading…</p>;
  const vifs = (n.VIFs || []).map((r: string) => store.get("vif", r)).filter(Boolean) as store.Rec[];
  return (
    <div class="page">
      <h1>{n.name_label}</h1>
      <p>
        Bridge {n.bridge}, MTU {n.MTU}
      </p>
      <Card title="Connected VMs">
        <ul class="plain">
          {vifs.map((v) => {
            const vm = store.get("vm", v.VM);
            return (
              <li key={v._ref}>
                {vm ? <a href={href("vm", vm._ref)}>{vm.name_label}</a> : v.VM} <span class="muted">{v.MAC}</span>
              </li>
            );
          })}
        </ul>
      </Card>
    </div>
  );
}

// The hosts' PIFs with their addresses; a VLAN on one (a new network
// tagged on that PIF, pool.create_VLAN_from_PIF) and a bond of several of
// one host's PIFs (Bond.create on a new network).
function Pifs() {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const pifs = store.all("pif").sort((a, b) => String(a.device).localeCompare(String(b.device)) || Number(a.VLAN) - Number(b.VLAN));
  const [pif, setPif] = useState("");
  const [tag, setTag] = useState(10);
  const [vlanName, setVlanName] = useState("");
  const [members, setMembers] = useState<string[]>([]);
  const [mode, setMode] = useState("active-backup");
  const [bondName, setBondName] = useState("");
  const [done, setDone] = useState("");
  const physical = pifs.filter((p) => p.physical && Number(p.VLAN) < 0 && (!p.bond_slave_of || p.bond_slave_of === "OpaqueRef:NULL"));
  const hostOf = (r: string) => store.get("host", r)?.name_label || "";
  const newNet = async (name: string) =>
    call("network.create", { name_label: name, name_description: "", MTU: 1500, other_config: {}, tags: [] });
  return (
    <>
      <Card title="Physical interfaces (PIFs)">
        <table class="grid" aria-label="PIFs">
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Device</th>
              <th scope="col">VLAN</th>
              <th scope="col">Network</th>
              <th scope="col">MAC</th>
              <th scope="col">Address</th>
              <th scope="col">Attached</th>
            </tr>
          </thead>
          <tbody>
            {pifs.map((p) => {
              const n = store.get("network", p.network);
              const v4 = p.IP ? `${p.IP}${p.netmask ? "/" + p.netmask : ""} (${p.ip_configuration_mode})` : p.ip_configuration_mode;
              return (
                <tr key={p._ref} data-pif={p.device + (Number(p.VLAN) >= 0 ? "." + p.VLAN : "")}>
                  <td>{hostOf(p.host)}</td>
                  <td>{p.device}</td>
                  <td>{Number(p.VLAN) >= 0 ? p.VLAN : ""}</td>
                  <td>{n ? <a href={href("network", n._ref)}>{n.name_label}</a> : ""}</td>
                  <td>{p.MAC}</td>
                  <td class="addr">{v4}{(p.IPv6 || []).length ? " " + p.IPv6.join(" ") : ""}</td>
                  <td>{p.currently_attached ? "yes" : "no"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {pifs.length === 0 && <p class="muted">No PIFs: the hosts have no managed interfaces.</p>}
      </Card>
      {perms.canAct && pifs.length > 0 && (
        <Card title="New VLAN">
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              setDone("");
              run(async () => {
                const p = pifs.find((x) => x._ref === pif) || physical[0];
                if (!p) throw new Error("Choose a PIF.");
                const name = vlanName.trim() || `VLAN ${tag} on ${p.device}`;
                const net = await newNet(name);
                try {
                  await call("pool.create_VLAN_from_PIF", p._ref, net, tag);
                } catch (err) {
                  await call("network.destroy", net).catch(() => {});
                  throw err;
                }
                setDone(name);
              });
            }}
          >
            <label>
              On PIF
              <select value={pif} onChange={(e) => setPif(e.currentTarget.value)}>
                {physical.map((p) => (
                  <option key={p._ref} value={p._ref}>{`${p.device} on ${hostOf(p.host)}`}</option>
                ))}
              </select>
            </label>
            <label>
              VLAN tag
              <input type="number" min={0} max={4094} value={tag} onInput={(e) => setTag(Number(e.currentTarget.value))} />
            </label>
            <label>
              VLAN name
              <input value={vlanName} onInput={(e) => setVlanName(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy}>Create VLAN</button>
          </form>
        </Card>
      )}
      {perms.canAct && physical.length > 1 && (
        <Card title="New bond">
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              setDone("");
              run(async () => {
                if (members.length < 2) throw new Error("Choose at least two PIFs of one host.");
                const hosts = new Set(members.map((m) => store.get("pif", m)?.host));
                if (hosts.size !== 1) throw new Error("A bond's PIFs are on one host.");
                const name = bondName.trim() || "Bond " + members.map((m) => store.get("pif", m)?.device).join("+");
                const net = await newNet(name);
                try {
                  await call("Bond.create", net, members, "", mode, {});
                } catch (err) {
                  await call("network.destroy", net).catch(() => {});
                  throw err;
                }
                setMembers([]);
                setDone(name);
              });
            }}
          >
            <fieldset>
              <legend>Bond members</legend>
              {physical.map((p) => (
                <label key={p._ref}>
                  <input
                    type="checkbox"
                    checked={members.includes(p._ref)}
                    onChange={(e) => setMembers(e.currentTarget.checked ? [...members, p._ref] : members.filter((m) => m !== p._ref))}
                  />
                  {`${p.device} on ${hostOf(p.host)}`}
                </label>
              ))}
            </fieldset>
            <label>
              Bond mode
              <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
                {["active-backup", "balance-slb", "lacp"].map((m) => (
                  <option key={m} value={m}>{m}</option>
                ))}
              </select>
            </label>
            <label>
              Bond name
              <input value={bondName} onInput={(e) => setBondName(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy}>Create bond</button>
          </form>
        </Card>
      )}
      {done && <p role="status">Created {done}.</p>}
      <ErrorBox error={error} onClose={clear} />
      <Tunnels physical={physical} />
    </>
  );
}

// Tunnels (GRE or VXLAN) carrying a private network over a PIF: made on a
// new network (tunnel.create), listed, destroyed with their network.
function Tunnels({ physical }: { physical: store.Rec[] }) {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const [pif, setPif] = useState("");
  const [proto, setProto] = useState("vxlan");
  const [name, setName] = useState("");
  const [done, setDone] = useState("");
  const tunnels = store.all("tunnel");
  const hostOf = (r: string) => store.get("host", r)?.name_label || "";
  if (!tunnels.length && !(perms.canAct && physical.length)) return null;
  return (
    <Card title="Tunnels">
      <table class="grid" aria-label="Tunnels">
        <thead>
          <tr>
            <th scope="col">Network</th>
            <th scope="col">Over PIF</th>
            <th scope="col">Protocol</th>
            <th scope="col">Active</th>
            <th scope="col"></th>
          </tr>
        </thead>
        <tbody>
          {tunnels.map((t) => {
            const access = store.get("pif", t.access_PIF);
            const net = store.get("network", access?.network);
            const tr = store.get("pif", t.transport_PIF);
            return (
              <tr key={t._ref} data-tunnel={net?.name_label || ""}>
                <td>{net ? <a href={href("network", net._ref)}>{net.name_label}</a> : ""}</td>
                <td>{tr ? `${tr.device} on ${hostOf(tr.host)}` : ""}</td>
                <td>{t.protocol}</td>
                <td>{t.status?.active === "true" ? "yes" : "no"}</td>
                <td>
                  {perms.canAct && (
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Destroy tunnel ${net?.name_label || ""}`}
                      onClick={() =>
                        confirm(`Destroy the tunnel of ${net?.name_label || "this network"}?`) &&
                        run(async () => {
                          await call("tunnel.destroy", t._ref);
                          // the network goes with its last tunnel
                          if (net && !store.all("tunnel").some((x) => x._ref !== t._ref && store.get("pif", x.access_PIF)?.network === net._ref))
                            await call("network.destroy", net._ref).catch(() => {});
                        })
                      }
                    >
                      Destroy
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {tunnels.length === 0 && <p class="muted">No tunnels.</p>}
      {perms.canAct && physical.length > 0 && (
        <form
          class="inline"
          aria-label="New tunnel"
          onSubmit={(e) => {
            e.preventDefault();
            setDone("");
            run(async () => {
              const p = physical.find((x) => x._ref === pif) || physical[0];
              const n = name.trim() || `${proto} on ${p.device}`;
              const net = await call("network.create", { name_label: n, name_description: "", MTU: 1500, other_config: {}, tags: [] });
              try {
                await call("tunnel.create", p._ref, net, proto);
              } catch (err) {
                await call("network.destroy", net).catch(() => {});
                throw err;
              }
              setName("");
              setDone(n);
            });
          }}
        >
          <label>
            Tunnel over PIF
            <select name="tunnel-pif" value={pif} onChange={(e) => setPif(e.currentTarget.value)}>
              {physical.map((p) => (
                <option key={p._ref} value={p._ref}>{`${p.device} on ${hostOf(p.host)}`}</option>
              ))}
            </select>
          </label>
          <label>
            Protocol
            <select name="tunnel-protocol" value={proto} onChange={(e) => setProto(e.currentTarget.value)}>
              <option value="vxlan">VXLAN</option>
              <option value="gre">GRE</option>
            </select>
          </label>
          <label>
            Tunnel name
            <input name="tunnel-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy}>Create tunnel</button>
        </form>
      )}
      {done && <p role="status">Created tunnel network {done}.</p>}
      <ErrorBox error={error} onClose={clear} />
    </Card>
  );
}
