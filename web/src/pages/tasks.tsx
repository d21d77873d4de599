import * as store from "../store";
import { call, XenAPIError } from "../api";
import { when } from "../format";
import { ErrorBox, perms, useAction } from "../ui";

export function TaskRow({ t }: { t: store.Rec }) {
  const [run, busy, error, clear] = useAction();
  const progress = Math.round(Number(t.progress || 0) * 100);
  const failed = t.status === "failure" && Array.isArray(t.error_info) && t.error_info.length > 0;
  return (
    <li class={"task " + t.status} data-task={t.uuid}>
      <span class="name">{t.name_label}</span> <span class="status">{t.status}</span>{" "}
      <progress max={100} value={progress} aria-label={`Progress of ${t.name_label}`}>
        {progress} %
      </progress>{" "}
      <span class="pct">{progress} %</span> <span class="muted">{when(t.created)}</span>
      {t.status === "pending" && perms.canAct && (
        <button type="button" disabled={busy} onClick={() => run(() => call("task.cancel", t._ref))}>
          Cancel
        </button>
      )}
      {failed && <ErrorBox error={new XenAPIError(String(t.error_info[0]), t.error_info.slice(1).map(String))} />}
      <ErrorBox error={error} onClose={clear} />
    </li>
  );
}

export function Tasks() {
  store.useStore();
  const tasks = store.all("task").sort((a, b) => String(b.created).localeCompare(String(a.created)));
  return (
    <div class="page">
      <h1>Tasks</h1>
      {tasks.length === 0 ? <p class="muted">No tasks.</p> : <ul class="plain tasks">{tasks.map((t) => <TaskRow key={t._ref} t={t} />)}</ul>}
    </div>
  );
}
