// Every VM, filtered and sorted, drawn as a window of rows over a tall
// scroller so that 10,000 cost as much as 30.
import { useMemo, useState } from "preact/hooks";
import * as store from "../store";
import { bytes, collator } from "../format";
import { href, perms } from "../ui";
import { Import } from "./import";

const ROW = 34;
type Key = "name_label" | "power_state" | "memory" | "vcpus" | "host";

export function VmList() {
  const v = store.useStore();
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: "name_label", dir: 1 });
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const hostName = (r: string) => store.get("host", r)?.name_label || "";
    const list = store
      .all("vm")
      .filter((x) => !x.is_a_template && !x.is_control_domain && !x.is_a_snapshot)
      .filter((x) => !f || x.name_label.toLowerCase().includes(f) || x.power_state.toLowerCase().includes(f) || x.uuid.startsWith(f))
      .map((x) => ({
        rec: x,
        name_label: String(x.name_label),
        power_state: String(x.power_state),
        memory: Number(x.memory_static_max || 0),
        vcpus: Number(x.VCPUs_at_startup || 0),
        host: x.power_state === "Halted" ? "" : hostName(x.resident_on),
      }));
    const { key, dir } = sort;
    list.sort((a, b) => {
      const x = a[key], y = b[key];
      const c = typeof x === "number" ? x - (y as number) : collator.compare(String(x), String(y));
      return c * dir || collator.compare(a.name_label, b.name_label);
    });
    return list;
  }, [v, filter, sort]);
  const first = Math.max(0, Math.floor(top / ROW) - 5);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW) + 5);
  const head = (key: Key, label: string) => (
    <th scope="col" aria-sort={sort.key === key ? (sort.dir === 1 ? "ascending" : "descending") : "none"}>
      <button type="button" class="link" onClick={() => setSort({ key, dir: sort.key === key ? (-sort.dir as 1 | -1) : 1 })}>
        {label}
        {sort.key === key ? (sort.dir === 1 ? " ▲" : " ▼") : ""}
      </button>
    </th>
  );
  return (
    <div class="page vmlist">
      <h1>VMs</h1>
      {perms.canAct && <Import />}
      <label class="filter">
        Filter
        <input type="search" value={filter} onInput={(e) => { setFilter(e.currentTarget.value); setTop(0); }} placeholder="name, state or UUID" />
      </label>
      <p class="muted" role="status">
        <span id="vm-count">{rows.length}</span> VMs
      </p>
      <div
        class="scroller"
        tabIndex={0}
        aria-label="VM list"
        ref={(el) => {
          if (el && el.clientHeight && el.clientHeight !== height) setHeight(el.clientHeight);
        }}
        onScroll={(e) => setTop(e.currentTarget.scrollTop)}
      >
        <table class="grid" aria-rowcount={rows.length + 1}>
          <thead>
            <tr>
              {head("name_label", "Name")}
              {head("power_state", "State")}
              {head("memory", "Memory")}
              {head("vcpus", "vCPUs")}
              {head("host", "Host")}
            </tr>
          </thead>
          <tbody>
            <tr style={{ height: first * ROW + "px" }} aria-hidden="true" />
            {rows.slice(first, last).map((r, i) => (
              <tr key={r.rec._ref} style={{ height: ROW + "px" }} aria-rowindex={first + i + 2}>
                <td>
                  <a href={href("vm", r.rec._ref)}>{r.name_label}</a>
                </td>
                <td>
                  <span class={"dot " + r.power_state} aria-hidden="true" /> {r.power_state}
                </td>
                <td>{bytes(r.memory)}</td>
                <td>{r.vcpus}</td>
                <td>{r.host}</td>
              </tr>
            ))}
            <tr style={{ height: (rows.length - last) * ROW + "px" }} aria-hidden="true" />
          </tbody>
        </table>
      </div>
    </div>
  );
}
