// Small inline SVG time charts for the report: lines and steps over a shared time axis, shaded bands, event markers, lanes.

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [time s, value]; an undefined value breaks the line (no data: a cut link). */
  readonly points: readonly (readonly [number, number | undefined])[];
  readonly step?: boolean;
  readonly dashed?: boolean;
}

export interface Band {
  readonly from: number;
  readonly to: number;
  readonly color: string;
  readonly label?: string | undefined;
}

export interface Marker {
  readonly at: number;
  readonly label: string;
  readonly color: string;
}

export interface ChartSpec {
  readonly title: string;
  readonly unit: string;
  readonly xMax: number;
  readonly yMin: number;
  readonly yMax: number;
  readonly series: readonly Series[];
  readonly bands?: readonly Band[];
  readonly markers?: readonly Marker[];
  readonly width?: number;
  readonly height?: number;
  /** Values outside [yMin, yMax] are drawn at the edge (e.g. RTT capped at 1 s). */
  readonly clamp?: boolean;
}

const PAD = { left: 56, right: 12, top: 42, bottom: 26 };

export function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** "Nice" tick values covering [min, max] with about `count` steps (1, 2, 5 × 10ⁿ). */
export function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min;
  if (!(span > 0)) return [min];
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1));

function frame(spec: ChartSpec, w: number, h: number, x: (t: number) => number, y: ((v: number) => number) | undefined, body: string): string {
  const parts: string[] = [];
  const x0axis = x(0).toFixed(1);
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${escapeXml(spec.title)}">`);
  parts.push(`<text x="${x0axis}" y="16" class="ct">${escapeXml(spec.title)}</text>`);
  for (const b of spec.bands ?? []) {
    const x0 = x(b.from);
    const x1 = x(b.to);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${PAD.top}" width="${Math.max(0.5, x1 - x0).toFixed(1)}" height="${h - PAD.top - PAD.bottom}" fill="${b.color}"/>`);
    if (b.label) parts.push(`<text x="${(x0 + 3).toFixed(1)}" y="${PAD.top + 11}" class="bl">${escapeXml(b.label)}</text>`);
  }
  if (y) {
    for (const v of ticks(spec.yMin, spec.yMax, 4)) {
      const yy = y(v).toFixed(1);
      parts.push(`<line x1="${x0axis}" x2="${w - PAD.right}" y1="${yy}" y2="${yy}" class="grid"/><text x="${x(0) - 6}" y="${yy}" class="yl" dy="3">${fmt(v)}</text>`);
    }
    parts.push(`<text x="12" y="${(PAD.top + (h - PAD.bottom)) / 2}" class="unit" transform="rotate(-90 12 ${(PAD.top + (h - PAD.bottom)) / 2})">${escapeXml(spec.unit)}</text>`);
  }
  for (const t of ticks(0, spec.xMax, 10)) {
    const xx = x(t).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${h - PAD.bottom}" y2="${h - PAD.bottom + 4}" class="axis"/><text x="${xx}" y="${h - PAD.bottom + 15}" class="xl">${fmt(t)} s</text>`);
  }
  parts.push(`<line x1="${x0axis}" x2="${w - PAD.right}" y1="${h - PAD.bottom}" y2="${h - PAD.bottom}" class="axis"/>`);
  parts.push(body);
  for (const m of spec.markers ?? []) {
    const xx = x(m.at).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${PAD.top}" y2="${h - PAD.bottom}" stroke="${m.color}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${xx}" y="${PAD.top - 3}" class="ml" fill="${m.color}">${escapeXml(m.label)}</text>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

/** The legend: one row under the title, left to right. */
function legendRow(left: number, entries: readonly { label: string; color: string }[]): string {
  let at = left;
  const out: string[] = [];
  for (const e of entries) {
    out.push(`<g transform="translate(${at.toFixed(0)},20)"><rect width="14" height="6" y="1" fill="${e.color}"/><text x="18" y="8" class="lg">${escapeXml(e.label)}</text></g>`);
    at += 30 + e.label.length * 6.2;
  }
  return out.join("");
}

/** A line (or step) chart of several series over time. */
export function lineChart(spec: ChartSpec): string {
  const w = spec.width ?? 1100;
  const h = spec.height ?? 180;
  const x = (t: number) => PAD.left + (Math.max(0, Math.min(t, spec.xMax)) / (spec.xMax || 1)) * (w - PAD.left - PAD.right);
  const y = (v: number) => {
    const c = spec.clamp ? Math.max(spec.yMin, Math.min(spec.yMax, v)) : v;
    return h - PAD.bottom - ((c - spec.yMin) / (spec.yMax - spec.yMin || 1)) * (h - PAD.top - PAD.bottom);
  };
  const body: string[] = [];
  for (const s of spec.series) {
    const runs: string[] = [];
    let run = "";
    let last: [number, number] | undefined;
    for (const [t, value] of s.points) {
      if (value === undefined || !Number.isFinite(value)) {
        if (run) runs.push(run);
        run = "";
        last = undefined;
        continue;
      }
      const px = x(t);
      const py = y(value);
      if (!run) run = `M${px.toFixed(1)},${py.toFixed(1)}`;
      else if (s.step && last) run += `H${px.toFixed(1)}V${py.toFixed(1)}`;
      else run += `L${px.toFixed(1)},${py.toFixed(1)}`;
      last = [px, py];
    }
    if (run) runs.push(run);
    if (runs.length > 0) body.push(`<path d="${runs.join(" ")}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
  }
  const legend = legendRow(x(0), spec.series.map((s) => ({ label: s.name, color: s.color })));
  return frame(spec, w, h, x, y, body.join("") + legend);
}

export interface Lane {
  readonly label: string;
  /** Spans of time (s) with a style: e.g. registered (light), in the home agent's cache (mid), carrying traffic (strong). */
  readonly spans: readonly { readonly from: number; readonly to: number; readonly color: string; readonly height: number }[];
}

/** Horizontal lanes with spans, over the same time axis (which care-of address was registered, cached, carrying). */
export function laneChart(spec: Omit<ChartSpec, "yMin" | "yMax" | "series" | "unit"> & { readonly lanes: readonly Lane[]; readonly legend: readonly { label: string; color: string }[] }): string {
  const w = spec.width ?? 1100;
  const laneHeight = 30;
  const h = PAD.top + PAD.bottom + laneHeight * spec.lanes.length + 4;
  const left = 200;
  const x = (t: number) => left + (Math.max(0, Math.min(t, spec.xMax)) / (spec.xMax || 1)) * (w - left - PAD.right);
  const body: string[] = [];
  spec.lanes.forEach((lane, i) => {
    const top = PAD.top + 2 + i * laneHeight;
    body.push(`<text x="${left - 8}" y="${top + laneHeight / 2 + 4}" class="yl">${escapeXml(lane.label)}</text>`);
    body.push(`<line x1="${left}" x2="${w - PAD.right}" y1="${top + laneHeight / 2}" y2="${top + laneHeight / 2}" class="grid"/>`);
    for (const s of lane.spans) {
      const x0 = x(s.from);
      const x1 = x(s.to);
      body.push(`<rect x="${x0.toFixed(1)}" y="${(top + (laneHeight - s.height) / 2).toFixed(1)}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${s.height}" fill="${s.color}" rx="2"/>`);
    }
  });
  const legend = legendRow(x(0), spec.legend);
  const shifted: ChartSpec = { ...spec, unit: "", yMin: 0, yMax: 1, series: [] };
  // The lane chart's axis starts at `left`, not PAD.left: draw bands, ticks and markers with its own x.
  return frame({ ...shifted, title: spec.title }, w, h, x, undefined, body.join("") + legend);
}
