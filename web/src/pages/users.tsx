// Users and roles (pool-admin): the subjects with their roles, a new
// subject by name (a local user or group the host's accounts know), a role
// added or removed, a subject removed.
import { useState } from "preact/hooks";
import * as store from "../store";
import { call } from "../api";
import { Card, ErrorBox, useAction } from "../ui";

export function Users() {
  store.useStore();
  const [run, busy, error, clear] = useAction();
  const [name, setName] = useState("");
  const [done, setDone] = useState("");
  const roles = store.all("role").filter((r) => !r.is_internal && ((r.subroles || []).length > 0 || r.name_label === "read-only"));
  roles.sort((a, b) => (b.subroles || []).length - (a.subroles || []).length);
  const subjects = store.all("subject").sort((a, b) => String(a.other_config?.["subject-name"] || "").localeCompare(String(b.other_config?.["subject-name"] || "")));
  const roleName = (r: string) => store.get("role", r)?.name_label || r;
  return (
    <div class="page users">
      <h1>Users and roles</h1>
      <ErrorBox error={error} onClose={clear} />
      <Card title="New subject">
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setDone("");
            run(async () => {
              const n = name.trim();
              if (!n) throw new Error("Give a user or group name.");
              const sid = await call("auth.get_subject_identifier", n);
              const info = await call("auth.get_subject_information_from_identifier", sid);
              await call("subject.create", { subject_identifier: sid, other_config: info });
              setName("");
              setDone(n);
            });
          }}
        >
          <label>
            User or group name
            <input name="subject-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <button type="submit" disabled={busy}>Add subject</button>
        </form>
        {done && <p role="status">Added {done}.</p>}
      </Card>
      <Card title="Subjects">
        <table class="grid" aria-label="Subjects">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Roles</th>
              <th scope="col">Add a role</th>
              <th scope="col"><span class="sr-only">Remove</span></th>
            </tr>
          </thead>
          <tbody>
            {subjects.map((s) => {
              const n = s.other_config?.["subject-name"] || s.subject_identifier;
              const has = new Set<string>(s.roles || []);
              return (
                <tr key={s._ref} data-subject={n}>
                  <td>{n}</td>
                  <td>{s.other_config?.["subject-is-group"] === "true" ? "group" : "user"}</td>
                  <td class="roles">
                    {(s.roles || []).map((r: string) => (
                      <span class="role" key={r} data-role={roleName(r)}>
                        {roleName(r)}{" "}
                        <button type="button" class="link" disabled={busy} aria-label={`Remove role ${roleName(r)} from ${n}`} onClick={() => run(() => call("subject.remove_from_roles", s._ref, r))}>
                          ×
                        </button>{" "}
                      </span>
                    ))}
                  </td>
                  <td>
                    <select
                      aria-label={`Add a role to ${n}`}
                      disabled={busy}
                      onChange={(e) => {
                        const r = e.currentTarget.value;
                        e.currentTarget.value = "";
                        if (r) run(() => call("subject.add_to_roles", s._ref, r));
                      }}
                    >
                      <option value="">add a role…</option>
                      {roles.filter((r) => !has.has(r._ref)).map((r) => (
                        <option key={r._ref} value={r._ref}>{r.name_label}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <button type="button" disabled={busy} aria-label={`Remove subject ${n}`} onClick={() => confirm(`Remove ${n}? Its sessions end.`) && run(() => call("subject.destroy", s._ref))}>
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
