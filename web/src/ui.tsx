// Small pieces every page uses: the error box, busy buttons, the router.
import { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { explain } from "./api";

export function ErrorBox({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const e = explain(error);
  return (
    <div class="error" role="alert" data-code={e.code}>
      <strong class="code">{e.code}</strong>
      {e.params.length > 0 && <span class="params"> [{e.params.join(", ")}]</span>}
      <div class="text">{e.text}</div>
      {onClose && (
        <button type="button" class="link" onClick={onClose} aria-label="Dismiss error">
          Dismiss
        </button>
      )}
    </div>
  );
}

// Runs an action, keeps its error until the next one.
export function useAction(): [(f: () => Promise<unknown>) => Promise<void>, boolean, unknown, () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return [run, busy, error, () => setError(null)];
}

export function Card({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-label={title} id={id}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

// #/path/arg routing.
export function useRoute(): string[] {
  const parse = () => (location.hash.replace(/^#\/?/, "") || "dashboard").split("/").map(decodeURIComponent);
  const [r, setR] = useState(parse);
  useEffect(() => {
    const f = () => setR(parse());
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  return r;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

export function Meter({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(1, value || 0));
  return (
    <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v * 100)} aria-label={label}>
      <div class="fill" style={{ width: (v * 100).toFixed(1) + "%" }} />
    </div>
  );
}

// The user's role allows acting (set after login).
export const perms = { canAct: false };
