// Sizes in binary units, as xe prints them, and times in the browser's zone.
const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n: number | string | undefined): string {
  let v = Number(n || 0);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + " " + units[i];
}

export function pct(x: number): string {
  return (x * 100).toFixed(x < 0.1 ? 1 : 0) + " %";
}

// XenAPI datetimes: 20261207T05:13:38Z
export function xapiTime(s: string | undefined): Date | null {
  if (!s) return null;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(s);
  if (m) return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  const d = new Date(s);
  return isNaN(d.getTime()) ? null : d;
}

export function when(s: string | undefined): string {
  const d = xapiTime(s);
  if (!d || d.getTime() <= 0) return "—";
  return d.toLocaleString();
}

// Names in the user's order, numbers in them by value ("vm-9" before "vm-10").
export const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
export const byName = (a: Record<string, any>, b: Record<string, any>) => collator.compare(String(a.name_label), String(b.name_label));
