// Hosts, storage and networks.
import * as store from "../store";
import { asyncCall, call } from "../api";
import { bytes, byName, when } from "../format";
import { Card, ErrorBox, href, Meter, perms, useAction } from "../ui";

export function HostPage({ hostRef }: { hostRef: string }) {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const h = store.get("host", hostRef);
  if (!h) return <p class="muted">Loading…</p>;
  const m = store.get("host_metrics", h.metrics);
  const total = Number(m?.memory_total || 0), free = Number(m?.memory_free || 0);
  const vms = store.all("vm").filter((v) => v.resident_on === hostRef && !v.is_control_domain);
  const sw = h.software_version || {};
  return (
    <div class="page host">
      <h1>{h.name_label}</h1>
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
            <dt>Memory</dt>
            <dd>
              {bytes(total - free)} used of {bytes(total)}
              <Meter value={total ? (total - free) / total : 0} label="Memory used" />
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

export function SrList() {
  store.useStore();
  const srs = store.all("sr").sort(byName);
  return (
    <div class="page">
      <h1>Storage</h1>
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
            </tr>
          </thead>
          <tbody>
            {vdis.map((v) => (
              <tr key={v._ref}>
                <td>{v.name_label}</td>
                <td>{bytes(v.virtual_size)}</td>
                <td>{bytes(v.physical_utilisation)}</td>
                <td>{v.is_a_snapshot ? when(v.snapshot_time) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

export function NetworkList() {
  store.useStore();
  return (
    <div class="page">
      <h1>Networks</h1>
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
