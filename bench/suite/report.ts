/**
 * The benchmark suite's report: REPORT.md and its SVG plots (plots/*.svg) next to it, from
 * SuiteResults alone, so the report can be redone without re-running the benchmarks:
 *
 *   npx tsx bench/suite/report.ts [bench/results/suite.json]
 *
 * writes bench/results/REPORT.md and bench/results/plots/ (beside the JSON file), with the cache
 * part's section from the cache.json beside it when there is one (bench/suite/cache.ts).
 * The same input gives byte-identical output: nothing here reads the clock or the locale.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CACHE_SYSTEMS, CacheResults, isUnavailable, PartName, Spread, SuiteResults, SystemName, SystemResult, SYSTEMS, WorkloadResult } from './results';
import { barChartSvg, BarSeries, cdfSvg, hasLatencyCurve } from './svg-plot';

const PARTS: readonly PartName[] = ['reads', 'mixed', 'federated', 'large-listing'];
const PLOTS_DIR = 'plots';

/** Fixed per system, so a color means the same thing in every plot. */
export const SYSTEM_COLORS: Readonly<Record<SystemName, string>> = {
  direct: '#555555',
  'hms-router': '#1f77b4',
  'waggle-dance': '#ff7f0e',
  'hms-router-cache': '#2ca02c',
};

// ---- Number and Markdown formatting ----

const DASH = '–';

function groupThousands(v: number): string {
  const s = String(Math.round(Math.abs(v))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return v < 0 && Math.round(v) !== 0 ? `-${s}` : s;
}

/** Integers from 100 up (with thousands separators), three significant digits below. */
export function fmtNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  if (Math.abs(v) >= 100) return groupThousands(v);
  return String(Number(v.toPrecision(3)));
}

export function fmtRatio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : v.toFixed(2);
}

function fmtSpread(s: Spread | null, fmt: (v: number) => string): string {
  return s === null ? DASH : `${fmt(s.median)} [${fmt(s.min)}..${fmt(s.max)}]`;
}

/**
 * Text from the results as Markdown that shows it as written, in a table cell or not: a pipe would
 * end the cell, a newline the table, `<name ...>` would be taken for HTML (and dropped by GitHub),
 * `*` for emphasis. Inline code (backticks) is left as it is.
 */
function md(text: string): string {
  return text.split(/(`+[^`]*`+)/).map((part, i) => (i % 2 === 1 ? part : part
    .replace(/\|/g, '\\|').replace(/\*/g, '\\*').replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('').replace(/\s*\r?\n\s*/g, ' ');
}

/** Inline code that survives backticks in the text (fence longer than any run inside). */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 ? ' ' : '';
  return `${fence}${pad}${text.replace(/\s*\r?\n\s*/g, ' ')}${pad}${fence}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function connections(w: WorkloadResult): string {
  const callers = `${w.concurrency} caller${w.concurrency === 1 ? '' : 's'}`;
  return `${callers}, ${w.connectionPerCall ? 'a new connection per call' : 'persistent connections'}`;
}

function available(w: WorkloadResult, system: SystemName): SystemResult | null {
  const r = w.systems[system];
  return r === undefined || isUnavailable(r) ? null : r;
}

// ---- Goals ----

export type Verdict = 'met' | 'NOT met' | 'not measured';

export interface WorkloadGoals {
  readonly workload: WorkloadResult;
  /** hms-router's per-round throughput ratio to direct, against the goal for its connection mode. */
  readonly vsDirect: { readonly verdict: Verdict; readonly goal: number; readonly ratio: Spread | null; readonly why: string };
  /** hms-router's throughput median over waggle-dance's: ahead when above 1. */
  readonly vsWaggleDance: { readonly verdict: Verdict; readonly ratio: number | null; readonly why: string };
}

/** Per workload, parts in report order. */
export function evaluateGoals(results: SuiteResults): WorkloadGoals[] {
  return PARTS.flatMap((part) => results.workloads.filter((w) => w.part === part)).map((w) => {
    const goal = w.connectionPerCall ? results.goals.connectionPerCallThroughputRatioAtLeast : results.goals.persistentThroughputRatioAtLeast;
    const router = available(w, 'hms-router');
    const wd = available(w, 'waggle-dance');
    const ratio = router?.throughputRatioToDirect ?? null;
    const vsDirect = router === null ? { verdict: 'not measured' as const, goal, ratio, why: 'hms-router did not run' }
      : ratio === null || !Number.isFinite(ratio.median) ? { verdict: 'not measured' as const, goal, ratio, why: 'no ratio to direct' }
        : { verdict: ratio.median >= goal ? 'met' as const : 'NOT met' as const, goal, ratio, why: '' };
    return { workload: w, vsDirect, vsWaggleDance: withAnswerCaveat(compareWithWaggleDance(router, wd, w.systems['waggle-dance'] === undefined), w, results) };
  });
}

/**
 * A lead or a lag means little when the answers differ: says so where the probes found that
 * Waggle Dance's answer to this workload's method is not the metastore's.
 */
function withAnswerCaveat(v: WorkloadGoals['vsWaggleDance'], w: WorkloadResult, results: SuiteResults): WorkloadGoals['vsWaggleDance'] {
  const probe = results.probes?.['waggle-dance'];
  if (probe === undefined || v.ratio === null) return v;
  const method = methodOf(w).split('(')[0]!;
  const caveats = [
    ...(probe.fidelity[method]?.startsWith('differs') ? ['waggle-dance\'s reply differs from direct\'s, see Answers'] : []),
    ...(method === 'get_all_databases' && !w.connectionPerCall && probe.freshness.includes('NOT listed')
      ? ['waggle-dance answers from the list taken when the connection opened, see Answers'] : []),
  ];
  return caveats.length === 0 ? v : { ...v, why: `${v.why}; ${caveats.join('; ')}` };
}

function compareWithWaggleDance(router: SystemResult | null, wd: SystemResult | null, wdMissing: boolean): WorkloadGoals['vsWaggleDance'] {
  if (router === null) return { verdict: 'not measured', ratio: null, why: 'hms-router did not run' };
  if (wd === null) return { verdict: 'not measured', ratio: null, why: wdMissing ? 'waggle-dance not run' : 'waggle-dance unavailable' };
  // A proxy whose every answer was wrong has no speed to compare with.
  if (wd.calls === 0 && wd.errors > 0 && router.calls > 0) return { verdict: 'met', ratio: null, why: `waggle-dance gave no right answer (${wd.errors} wrong or failed)` };
  const [r, d] = [router.throughputPerSec, wd.throughputPerSec];
  const ratio = d.median > 0 ? r.median / d.median : null;
  // Rounds won tell a narrow lead from noise; only when both ran the same rounds.
  const won = r.all.length === d.all.length && r.all.length > 0
    ? `; faster in ${r.all.filter((v, i) => v > d.all[i]!).length} of ${r.all.length} rounds` : '';
  const ahead = r.median > d.median;
  return { verdict: ahead ? 'met' : 'NOT met', ratio, why: `${ahead ? 'ahead' : 'behind'}${won}` };
}

function goalsSection(results: SuiteResults): string[] {
  const verdicts = evaluateGoals(results);
  const all = verdicts.flatMap((v) => [v.vsDirect.verdict, v.vsWaggleDance.verdict]);
  const count = (verdict: Verdict) => all.filter((v) => v === verdict).length;
  const out = [
    '## Goals',
    '',
    `**${count('met')} met, ${count('NOT met')} NOT met, ${count('not measured')} not measured** ` +
    `(two goals per workload: hms-router's throughput ratio to direct at least ${fmtRatio(results.goals.persistentThroughputRatioAtLeast)} ` +
    `on persistent connections, at least ${fmtRatio(results.goals.connectionPerCallThroughputRatioAtLeast)} with a new connection per call; ` +
    'and hms-router ahead of waggle-dance in throughput).',
    '',
    '| workload | part | connections | hms-router ÷ direct median [min..max] | goal | verdict | hms-router ÷ waggle-dance (medians) | verdict |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const { workload: w, vsDirect, vsWaggleDance } of verdicts) {
    // A third decimal when two would round the ratio onto the goal: "0.90 ≥ 0.90 NOT met" would read as a bug.
    const near = vsDirect.ratio !== null && Math.abs(vsDirect.ratio.median - vsDirect.goal) < 0.005;
    const ratioText = fmtSpread(vsDirect.ratio, (v) => (near ? v.toFixed(3) : fmtRatio(v)));
    const directVerdict = vsDirect.why === '' ? vsDirect.verdict : `${vsDirect.verdict} (${vsDirect.why})`;
    const wdVerdict = `${vsWaggleDance.verdict} (${vsWaggleDance.why})`;
    out.push(`| ${md(w.name)} | ${w.part} | ${md(connections(w))} | ${ratioText} | ≥ ${fmtRatio(vsDirect.goal)} | ` +
      `${directVerdict} | ${fmtRatio(vsWaggleDance.ratio)} | ${wdVerdict} |`);
  }
  return out;
}

// ---- Header ----

function headerSection(results: SuiteResults): string[] {
  const m = results.machine;
  const load = (l: readonly number[]) => (l.length === 0 ? DASH : l.map((v) => v.toFixed(2)).join(' / '));
  const wd = results.waggleDance;
  const wdLine = wd.unavailable !== null
    ? `unavailable: ${md(wd.unavailable)}`
    : `${md(wd.version ?? 'version unknown')}, Java flags ${wd.javaFlags.length === 0 ? '(none)' : wd.javaFlags.map(code).join(' ')}`;
  return [
    '# Benchmark suite: direct vs hms-router vs waggle-dance',
    '',
    `- Date: ${results.date}`,
    `- Machine: ${m.cpus} CPUs, ${fmtNumber(m.memoryGiB)} GiB memory, Node ${m.node}; ` +
      `load average (1 / 5 / 15 min) ${load(m.loadAverageAtStart)} at start, ${load(m.loadAverageAtEnd)} at end`,
    `- Hive metastore: ${md(results.hiveVersion)}`,
    `- Waggle Dance: ${wdLine}`,
    ...(wd.settings ?? []).map((line) => `  - ${md(line)}`),
    `- Runs: ${fmtNumber(results.secondsPerRun)} s per run, ${results.rounds} round${results.rounds === 1 ? '' : 's'}; ` +
      `the whole suite took ${fmtNumber(results.minutes)} min`,
    `- Command: ${code(results.command)}`,
    '',
    '### How to read this',
    '',
    `Every system runs every workload once per round, ${results.rounds} rounds. A figure is the median over the rounds; ` +
    'where [min..max] follows it, that is its spread over the rounds (a wide spread means a noisy run, so treat small ' +
    'differences with care). p50, p99, CPU and the latency plots are medians over the rounds too (the CDF plots the ' +
    'median of each percentile). The ratio to direct is taken per round, a system\'s throughput over direct\'s in the ' +
    'same round on the same workload, then summarized: drift of the machine between rounds cancels out, so it is not ' +
    'simply one median over another. Direct is the metastore without a proxy, the baseline of every ratio; CPU µs/call ' +
    'and RSS are the proxy process\'s own, so direct has none. hms-router ÷ waggle-dance is the ratio of their throughput medians.',
  ];
}

// ---- Answers: are they the metastore's? ----

function answersSection(results: SuiteResults): string[] {
  const probes = Object.entries(results.probes ?? {});
  if (probes.length === 0) return [];
  const methods = [...new Set(probes.flatMap(([, p]) => Object.keys(p!.fidelity)))];
  return [
    '## Answers compared with direct',
    '',
    'Each proxy\'s reply bytes (after the message header) against the metastore\'s for the same call, and whether ' +
    'get_all_databases on an open connection lists a database created after that connection opened.',
    '',
    `| system | ${methods.map((m) => code(m)).join(' | ')} | get_all_databases on an open connection |`,
    `|---|${methods.map(() => '---|').join('')}---|`,
    ...probes.map(([system, p]) => `| ${system} | ${methods.map((m) => md(p!.fidelity[m] ?? DASH)).join(' | ')} | ${md(p!.freshness)} |`),
  ];
}

// ---- Per part: table, descriptions, notes, plots ----

interface Plot { readonly file: string; readonly svg: string }

function systemRow(w: WorkloadResult, system: SystemName, first: boolean): string {
  const name = first ? md(w.name) : '';
  const r = w.systems[system]!;
  if (isUnavailable(r)) return `| ${name} | ${system} | unavailable: ${md(r.unavailable)} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} |`;
  const errors = r.errors === 0 ? '0' : `${fmtNumber(r.errors)} of ${fmtNumber(r.calls)}`;
  const extra = Object.entries(r.extra).map(([k, v]) => `${k}=${fmtNumber(v)}`).join(', ');
  return `| ${name} | ${system} | ${fmtSpread(r.throughputPerSec, fmtNumber)} | ${fmtNumber(r.p50Ms.median)} | ${fmtNumber(r.p99Ms.median)} | ` +
    `${fmtSpread(r.throughputRatioToDirect, fmtRatio)} | ${fmtNumber(r.cpuUsPerCall?.median)} | ${fmtNumber(r.rssMiB)} | ${errors} | ${md(extra) || DASH} |`;
}

/** Each workload's description, notes and error samples: what the table cannot say. */
function workloadDetails(w: WorkloadResult): string[] {
  const out = [`- **${md(w.name)}** (${connections(w)}): ${md(w.description)}`];
  for (const note of w.notes) out.push(`  - ${md(note)}`);
  for (const system of SYSTEMS) {
    const r = available(w, system);
    // Samples are capped at 5 by the runner; a stack trace is clipped so the list stays a list.
    for (const sample of r?.errorSamples ?? []) out.push(`  - error sample (${system}): ${code(clip(sample, 300))}`);
  }
  return out;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'workload';
}

/** A file name in plots/ not used yet (two names may slug alike). */
function uniqueFile(base: string, used: Set<string>): string {
  let file = `${base}.svg`;
  for (let i = 2; used.has(file); i++) file = `${base}-${i}.svg`;
  used.add(file);
  return file;
}

/** The method a workload calls: its name up to the first space (names start with the method). */
function methodOf(w: WorkloadResult): string {
  return w.name.split(' ')[0]!;
}

function byMethod(workloads: readonly WorkloadResult[]): Map<string, WorkloadResult[]> {
  const groups = new Map<string, WorkloadResult[]>();
  for (const w of workloads) groups.set(methodOf(w), [...(groups.get(methodOf(w)) ?? []), w]);
  return groups;
}

function partSection(part: PartName, workloads: readonly WorkloadResult[], used: Set<string>, plots: Plot[]): string[] {
  const out = [
    `## Part: ${part}`,
    '',
    '| workload | system | throughput/s median [min..max] | p50 ms | p99 ms | ratio to direct median [min..max] | CPU µs/call | RSS MiB | errors | extra |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of workloads) {
    SYSTEMS.filter((s) => w.systems[s] !== undefined).forEach((s, i) => out.push(systemRow(w, s, i === 0)));
  }
  out.push('', ...workloads.flatMap(workloadDetails), '', `### Plots: ${part}`, '');

  // One bar chart per method: a chart of every workload in a part squeezes its labels to nothing,
  // and one fast method (a cached listing) would flatten the bars of all the others.
  for (const [method, group] of byMethod(workloads)) {
    const barFile = uniqueFile(`${slug(part)}-${slug(method)}-throughput`, used);
    const barSeries: BarSeries[] = SYSTEMS.map((s) => ({
      label: s, color: SYSTEM_COLORS[s],
      values: group.map((w) => available(w, s)?.throughputPerSec ?? null),
    }));
    const labels = group.map((w) => w.name.slice(method.length).trim() || w.name);
    plots.push({ file: barFile, svg: barChartSvg(`${part}: ${method} throughput (median, min..max over rounds)`, 'calls per second', labels, barSeries) });
    out.push(`![${part} ${md(method)} throughput](${PLOTS_DIR}/${barFile})`, '');
  }

  for (const w of workloads) {
    const series = SYSTEMS.flatMap((s) => {
      const r = available(w, s);
      return r !== null && hasLatencyCurve(r.latencyQuantilesMs) ? [{ label: s, color: SYSTEM_COLORS[s], quantilesMs: r.latencyQuantilesMs, dashed: s === 'direct' }] : [];
    });
    const skipped = SYSTEMS.filter((s) => available(w, s) !== null && !series.some((x) => x.label === s));
    const why = skipped.length === 0 ? [] : [`No latency curve for ${skipped.join(', ')} (quantiles missing or all zero).`, ''];
    if (series.length === 0) {
      out.push(`${md(w.name)}: no latency quantiles recorded.`, '', ...why);
      continue;
    }
    const file = uniqueFile(`${slug(part)}-${slug(w.name)}-latency`, used);
    plots.push({ file, svg: cdfSvg(w.name, series) });
    out.push(`![${md(w.name).replace(/[[\]]/g, '')} latency CDF](${PLOTS_DIR}/${file})`, '', ...why);
  }
  return out;
}

// ---- The cache part (its own results file, bench/results/cache.json) ----

const extraOf = (r: SystemResult, key: string) => r.extra[key];

function cacheSection(cache: CacheResults, used: Set<string>, plots: Plot[]): string[] {
  const m = cache.machine;
  const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' / ');
  const s = cache.goalsSummary;
  const out = [
    '## Part: cache (issue #15, bench/results/cache.json)',
    '',
    `- Date: ${cache.date}; commit ${cache.commit ?? DASH}; command ${code(cache.command)}; ${fmtNumber(cache.minutes)} min`,
    `- Machine: ${m.cpus} CPUs, load average (1 / 5 / 15 min) ${load(m.loadAverageAtStart)} at start, ${load(m.loadAverageAtEnd)} at end`,
    `- Runs: ${fmtNumber(cache.secondsPerRun)} s per run after a warm-up of ${fmtNumber(cache.warmupSeconds)} s, ${cache.rounds} rounds, systems alternating`,
    `- Cache: ${cache.cache.active ? 'active' : '**not active**'}: ${md(cache.cache.detail)}; the metastore's notification log ` +
      `${cache.cache.notificationLogWritten === null ? 'could not be read' : cache.cache.notificationLogWritten ? 'is written' : '**is not written** (the feed cannot see changes)'}`,
    ...Object.entries(cache.cache.gauges).map(([phase, g]) => `  - gauges ${phase}: ${Object.entries(g).map(([k, v]) => `${k} ${fmtNumber(v)}`).join(', ') || DASH}`),
    ...cache.settings.map((line) => `- ${md(line)}`),
    '',
    `### Goals: ${s.met} met, ${s.notMet} NOT met, ${s.notMeasured} not measured`,
    '',
    '| goal | workload | measured | verdict | detail |',
    '|---|---|---|---|---|',
    ...cache.goals.map((g) => `| ${md(g.goal)} | ${md(g.workload ?? 'all')} | ${fmtNumber(g.measured)} | ` +
      `${g.met === null ? 'not measured' : g.met ? 'met' : 'NOT met'} | ${md(g.detail)} |`),
    '',
    '### Hot reads',
    '',
    '| workload | system | throughput/s median [min..max] | p50 ms | p99 ms | ratio to direct | metastore calls per call | hit ratio | stale of compared (all rounds) | errors (all rounds) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const row = (w: WorkloadResult, system: SystemName, first: boolean, cells: (r: SystemResult) => string[]) => {
    const r = w.systems[system];
    if (r === undefined) return null;
    const name = first ? md(w.name) : '';
    if (isUnavailable(r)) return `| ${name} | ${system} | unavailable: ${md(r.unavailable)} |`;
    return `| ${name} | ${system} | ${fmtSpread(r.throughputPerSec, fmtNumber)} | ${fmtNumber(r.p50Ms.median)} | ${fmtNumber(r.p99Ms.median)} | ` +
      `${cells(r).join(' | ')} | ${r.errors === 0 ? '0' : `${fmtNumber(r.errors)} of ${fmtNumber(r.calls + r.errors)}`} |`;
  };
  const staleCell = (r: SystemResult) => `${fmtNumber(extraOf(r, 'stale') ?? 0)} of ${fmtNumber(extraOf(r, 'compared') ?? 0)}`;
  for (const w of cache.hotReads) {
    CACHE_SYSTEMS.forEach((system, i) => {
      const line = row(w, system, i === 0, (r) => [fmtSpread(r.throughputRatioToDirect, fmtRatio), fmtNumber(extraOf(r, 'metastoreCallsPerCall')),
        fmtNumber(extraOf(r, 'hitRatio')), staleCell(r)]);
      if (line !== null) out.push(line);
    });
  }
  out.push('', '### Mixed: 10 reads per write', '',
    '| workload | system | throughput/s median [min..max] | p50 ms | p99 ms | primary calls per call | replica calls per call | ' +
    'primary MySQL statements per call | replica MySQL statements per call | reads from primary / replica / cache | feed lag ms median / max | read-after-write violations of own reads (all rounds) | stale of compared (all rounds) | errors (all rounds) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const w of cache.mixed) {
    CACHE_SYSTEMS.forEach((system, i) => {
      const line = row(w, system, i === 0, (r) => [fmtNumber(extraOf(r, 'primaryCallsPerCall')), fmtNumber(extraOf(r, 'replicaCallsPerCall')),
        fmtNumber(extraOf(r, 'primaryMysqlStatementsPerCall')), fmtNumber(extraOf(r, 'replicaMysqlStatementsPerCall')),
        ['readsFromPrimary', 'readsFromReplica', 'readsFromCache'].map((k) => fmtNumber(extraOf(r, k))).join(' / '),
        ['feedLagMsMedian', 'feedLagMsMax'].map((k) => fmtNumber(extraOf(r, k))).join(' / '),
        `${fmtNumber(extraOf(r, 'readAfterWriteViolations') ?? 0)} of ${fmtNumber(extraOf(r, 'ownReads') ?? 0)}`, staleCell(r)]);
      if (line !== null) out.push(line);
    });
  }
  out.push('');
  for (const w of [...cache.hotReads, ...cache.mixed]) {
    out.push(`- **${md(w.name)}** (${connections(w)}): ${md(w.description)}`);
    for (const note of w.notes) out.push(`  - ${md(note)}`);
    for (const system of CACHE_SYSTEMS) {
      const r = available(w, system);
      for (const sample of r?.errorSamples ?? []) out.push(`  - error sample (${system}): ${code(clip(sample, 300))}`);
    }
  }
  out.push('', '### Plots: cache', '');
  for (const [method, group] of byMethod(cache.hotReads)) {
    const file = uniqueFile(`cache-${slug(method)}-throughput`, used);
    const series: BarSeries[] = CACHE_SYSTEMS.map((system) => ({
      label: system, color: SYSTEM_COLORS[system], values: group.map((w) => available(w, system)?.throughputPerSec ?? null),
    }));
    plots.push({ file, svg: barChartSvg(`cache: hot ${method} throughput (median, min..max over rounds)`, 'calls per second',
      group.map((w) => w.name.slice(method.length).trim() || w.name), series) });
    out.push(`![cache ${md(method)} throughput](${PLOTS_DIR}/${file})`, '');
  }
  return out;
}

/** The cache part's results beside the suite's, if there are any. */
export function readCacheResults(dir: string): CacheResults | undefined {
  const file = join(dir, 'cache.json');
  if (!existsSync(file)) return undefined;
  const cache = JSON.parse(readFileSync(file, 'utf8')) as CacheResults;
  if (cache.benchmark !== 'cache') throw new Error(`${file} is not the cache part's results (benchmark: 'cache')`);
  return cache;
}

/** The Markdown and the plots, without touching the disk. */
export function renderReport(results: SuiteResults, cache?: CacheResults): { markdown: string; plots: Plot[] } {
  const plots: Plot[] = [];
  const used = new Set<string>();
  const lines = [...headerSection(results), '', ...goalsSection(results), '', ...answersSection(results), ''];
  for (const part of PARTS) {
    const workloads = results.workloads.filter((w) => w.part === part);
    if (workloads.length > 0) lines.push(...partSection(part, workloads, used, plots), '');
  }
  if (cache !== undefined) lines.push(...cacheSection(cache, used, plots), '');
  return { markdown: lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n', plots };
}

/**
 * Writes outDir/REPORT.md and outDir/plots/*.svg; SVGs of an earlier report that this one lacks are
 * removed. `cache`: the cache part's results, by default outDir/cache.json when it exists.
 */
export function writeReport(results: SuiteResults, outDir: string, cache: CacheResults | undefined = readCacheResults(outDir)): { reportFile: string; plots: string[] } {
  const { markdown, plots } = renderReport(results, cache);
  const plotsDir = join(outDir, PLOTS_DIR);
  mkdirSync(plotsDir, { recursive: true });
  const current = new Set(plots.map((p) => p.file));
  // The directory holds only generated plots: stale ones (a renamed workload) would mislead.
  for (const f of readdirSync(plotsDir)) if (f.endsWith('.svg') && !current.has(f)) rmSync(join(plotsDir, f));
  for (const p of plots) writeFileSync(join(plotsDir, p.file), p.svg);
  const reportFile = join(outDir, 'REPORT.md');
  writeFileSync(reportFile, markdown);
  return { reportFile, plots: plots.map((p) => join(plotsDir, p.file)) };
}

if (require.main === module) {
  const file = resolve(process.argv[2] ?? join(__dirname, '..', 'results', 'suite.json'));
  try {
    const results = JSON.parse(readFileSync(file, 'utf8')) as SuiteResults;
    if (results.benchmark !== 'suite' || !Array.isArray(results.workloads)) throw new Error(`${file} is not the suite's results (benchmark: 'suite')`);
    const { reportFile, plots } = writeReport(results, dirname(file));
    process.stdout.write(`${reportFile} (${plots.length} plots)\n`);
  } catch (err) {
    process.stderr.write(`report: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
