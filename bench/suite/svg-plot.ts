/**
 * Hand-written SVG charts for the suite's report (bench/suite/report.ts): a latency CDF on a log10
 * x axis, and a grouped bar chart with min..max whiskers. Plain string building, no charting
 * package; the output depends only on the input, so a regenerated report is byte-identical.
 * Sized for ~640x360, on a white background so the charts stay readable in GitHub's dark theme.
 */

export const WIDTH = 640;
export const HEIGHT = 360;
/** Title on the first line, legend on the second, then the plot area. */
const MARGIN = { left: 64, right: 36, top: 52, bottom: 50 } as const;
const PLOT = { left: MARGIN.left, right: WIDTH - MARGIN.right, top: MARGIN.top, bottom: HEIGHT - MARGIN.bottom } as const;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const GRID = '#e2e2e2';
const AXIS = '#333';

/** Latencies below this (ms) are drawn at it: a log axis has no zero, and the suite's calls never take under 10 µs. */
export const MIN_LOG_MS = 0.01;

export interface CdfSeries {
  readonly label: string;
  readonly color: string;
  /** Latency (ms) at percentiles 0..100, evenly spaced (the suite records 101 values). */
  readonly quantilesMs: readonly number[];
  /** Drawn dashed and on top, so a curve another one hides (a proxy as fast as its baseline) still shows. */
  readonly dashed?: boolean;
}

export interface BarValue {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface BarSeries {
  readonly label: string;
  readonly color: string;
  /** One per group; null where the system did not run that workload (drawn as "n/a"). */
  readonly values: readonly (BarValue | null)[];
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A coordinate with one decimal: plenty at this size, and short, stable text. */
function c(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Maps [lo, hi] (both > 0) onto [from, to] by log10; values under lo are drawn at lo. */
export function logScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  const a = Math.log10(lo);
  const span = Math.log10(hi) - a;
  return (v) => from + ((Math.log10(Math.max(v, lo)) - a) / span) * (to - from);
}

export function linearScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  return (v) => from + ((v - lo) / (hi - lo)) * (to - from);
}

/** Whether a series has a curve worth drawing: at least two finite values, not all zero. */
export function hasLatencyCurve(quantilesMs: readonly number[] | undefined): boolean {
  if (quantilesMs === undefined || quantilesMs.length < 2) return false;
  return quantilesMs.every(Number.isFinite) && quantilesMs.some((v) => v > 0);
}

/** The decades (powers of ten, as exponents) spanning every value, at least one decade wide. */
export function decadeRange(valuesMs: readonly number[]): { lo: number; hi: number } {
  const positive = valuesMs.filter((v) => Number.isFinite(v) && v > 0);
  if (positive.length === 0) return { lo: Math.log10(MIN_LOG_MS), hi: Math.log10(MIN_LOG_MS) + 1 };
  const min = Math.max(MIN_LOG_MS, Math.min(...positive));
  const max = Math.max(MIN_LOG_MS, ...positive);
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max) - 1e-9));
  return { lo, hi };
}

/** A decade's label from its exponent (no float noise like 0.30000000000000004): 0.01 ms .. 100 ms, then seconds. */
export function decadeLabel(exponent: number): string {
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}1 ms`;
  if (exponent < 3) return `${10 ** exponent} ms`;
  return `${10 ** (exponent - 3)} s`;
}

function svgOpen(title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT} font-size="12">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="20" font-size="14" font-weight="bold" fill="${AXIS}">${escapeXml(title)}</text>`,
  ];
}

/** A swatch (a box for bars, a line stroke for curves) and a label per series, in one row under the title. */
function legend(series: readonly { label: string; color: string; dashed?: boolean }[], swatch: 'box' | 'line'): string[] {
  const out: string[] = [];
  let x = PLOT.left;
  for (const s of series) {
    out.push(swatch === 'box' ? `<rect x="${c(x)}" y="30" width="14" height="10" fill="${s.color}"/>`
      : `<line x1="${c(x)}" y1="35" x2="${c(x + 14)}" y2="35" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="4 2"' : ''}/>`);
    out.push(`<text x="${c(x + 19)}" y="39" fill="${AXIS}">${escapeXml(s.label)}</text>`);
    x += 19 + s.label.length * 7 + 18;
  }
  return out;
}

/** The axis lines and their labels; no x label when the groups' names under the axis say it all. */
function axes(xLabel: string | null, yLabel: string): string[] {
  const midY = c((PLOT.top + PLOT.bottom) / 2);
  const out = [
    `<line x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="${AXIS}"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="${AXIS}"/>`,
    `<text x="16" y="${midY}" text-anchor="middle" transform="rotate(-90 16 ${midY})" fill="${AXIS}">${escapeXml(yLabel)}</text>`,
  ];
  if (xLabel !== null) out.push(`<text x="${c((PLOT.left + PLOT.right) / 2)}" y="${HEIGHT - 10}" text-anchor="middle" fill="${AXIS}">${escapeXml(xLabel)}</text>`);
  return out;
}

/** Horizontal gridline with its label at the left axis. */
function yTick(y: number, label: string): string[] {
  return [
    `<line x1="${PLOT.left}" y1="${c(y)}" x2="${PLOT.right}" y2="${c(y)}" stroke="${GRID}"/>`,
    `<text x="${PLOT.left - 6}" y="${c(y + 4)}" text-anchor="end" fill="${AXIS}">${escapeXml(label)}</text>`,
  ];
}

/**
 * Latency CDF: x is the latency (log10, decade gridlines, minor ticks at 2..9), y the percentile
 * 0..100; one polyline per series (callers pass only series with `hasLatencyCurve`).
 */
export function cdfSvg(title: string, series: readonly CdfSeries[]): string {
  const { lo, hi } = decadeRange(series.flatMap((s) => s.quantilesMs));
  const x = logScale(10 ** lo, 10 ** hi, PLOT.left, PLOT.right);
  const y = linearScale(0, 100, PLOT.bottom, PLOT.top);
  const out = svgOpen(title);
  for (let p = 0; p <= 100; p += 20) out.push(...yTick(y(p), String(p)));
  for (let e = lo; e <= hi; e++) {
    const px = c(x(10 ** e));
    out.push(`<line x1="${px}" y1="${PLOT.top}" x2="${px}" y2="${PLOT.bottom}" stroke="${GRID}"/>`);
    out.push(`<text x="${px}" y="${PLOT.bottom + 16}" text-anchor="middle" fill="${AXIS}">${decadeLabel(e)}</text>`);
    for (let m = 2; m <= 9 && e < hi; m++) {
      const mx = c(x(m * 10 ** e));
      out.push(`<line x1="${mx}" y1="${PLOT.bottom}" x2="${mx}" y2="${PLOT.bottom + 4}" stroke="${AXIS}"/>`);
    }
  }
  out.push(...axes('latency (log scale)', 'percentile'));
  for (const s of [...series.filter((s) => !s.dashed), ...series.filter((s) => s.dashed)]) {
    const last = s.quantilesMs.length - 1;
    const points = s.quantilesMs.map((v, i) => `${c(x(v))},${c(y((i / last) * 100))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${dash}/>`);
  }
  out.push(...legend(series, 'line'), '</svg>');
  return out.join('\n') + '\n';
}

/** A round step (1, 2, 2.5 or 5 times a power of ten) giving about five ticks up to `max`. */
export function niceStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * power;
}

/** 12000 -> "12k", 1500000 -> "1.5M", 0.5 -> "0.5": short axis labels. */
export function compactNumber(v: number): string {
  const trim = (n: number) => String(Number(n.toPrecision(3)));
  if (Math.abs(v) >= 1e6) return `${trim(v / 1e6)}M`;
  if (Math.abs(v) >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/**
 * Splits a group label into at most three lines of `chars` each, breaking after spaces and
 * underscores (Thrift method names), cutting what is left with an ellipsis.
 */
function wrapLabel(label: string, chars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const token of label.split(/(?<=[\s_])/)) {
    if (line !== '' && (line + token).trimEnd().length > chars) { lines.push(line); line = ''; }
    line += token;
  }
  lines.push(line);
  const kept = lines.length > 3 ? [...lines.slice(0, 2), lines.slice(2).join('')] : lines;
  return kept.map((l) => l.trimEnd()).map((l) => (l.length > chars ? `${l.slice(0, Math.max(1, chars - 1))}…` : l));
}

/** Grouped bars (one group per workload, one bar per series) with min..max whiskers, y from 0. */
export function barChartSvg(title: string, yLabel: string, groups: readonly string[], series: readonly BarSeries[]): string {
  const values = series.flatMap((s) => s.values).filter((v): v is BarValue => v !== null);
  const top = Math.max(0, ...values.map((v) => Math.max(v.max, v.median)).filter(Number.isFinite));
  const step = niceStep(top > 0 ? top : 1);
  const yMax = Math.max(step, Math.ceil((top > 0 ? top : 1) / step - 1e-9) * step);
  const y = linearScale(0, yMax, PLOT.bottom, PLOT.top);
  const out = svgOpen(title);
  for (let k = 0; k * step <= yMax + step / 1e6; k++) out.push(...yTick(y(k * step), compactNumber(k * step)));

  const groupWidth = (PLOT.right - PLOT.left) / Math.max(1, groups.length);
  const barWidth = (groupWidth * 0.75) / Math.max(1, series.length);
  groups.forEach((group, g) => {
    const groupLeft = PLOT.left + g * groupWidth + groupWidth * 0.125;
    series.forEach((s, i) => {
      const v = s.values[g] ?? null;
      const left = groupLeft + i * barWidth;
      const mid = left + barWidth / 2;
      if (v === null || !Number.isFinite(v.median)) {
        out.push(`<text x="${c(mid)}" y="${PLOT.bottom - 4}" text-anchor="middle" font-size="10" fill="#888888">n/a</text>`);
        return;
      }
      const barTop = y(Math.max(0, v.median));
      out.push(`<rect x="${c(left + 1)}" y="${c(barTop)}" width="${c(Math.max(1, barWidth - 2))}" height="${c(PLOT.bottom - barTop)}" fill="${s.color}"/>`);
      // The spread over rounds: a bar without it would hide how noisy the run was.
      const [wMin, wMax] = [y(Math.max(0, v.min)), y(Math.max(0, v.max))];
      const cap = Math.min(6, barWidth / 3);
      out.push(`<line x1="${c(mid)}" y1="${c(wMin)}" x2="${c(mid)}" y2="${c(wMax)}" stroke="#222222" stroke-width="1.2"/>`);
      for (const wy of [wMin, wMax]) out.push(`<line x1="${c(mid - cap)}" y1="${c(wy)}" x2="${c(mid + cap)}" y2="${c(wy)}" stroke="#222222" stroke-width="1.2"/>`);
    });
    const lines = wrapLabel(group, Math.max(4, Math.floor(groupWidth / 6.5)));
    lines.forEach((line, l) => {
      out.push(`<text x="${c(PLOT.left + (g + 0.5) * groupWidth)}" y="${PLOT.bottom + 15 + l * 13}" text-anchor="middle" font-size="11" fill="${AXIS}">${escapeXml(line)}</text>`);
    });
  });
  out.push(...axes(null, yLabel), ...legend(series, 'box'), '</svg>');
  return out.join('\n') + '\n';
}
