/**
 * The suite's report (bench/suite/report.ts) from made-up results: it names every workload and
 * system, says why a system did not run, gets the goal verdicts right, and every plot it links to
 * exists and is well-formed SVG with one curve per system that has latencies.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport, writeReport } from '../../bench/suite/report';
import type { Spread, SuiteResults, SystemResult, WorkloadResult } from '../../bench/suite/results';
import { logScale, MIN_LOG_MS } from '../../bench/suite/svg-plot';

function spread(median: number, min = median * 0.95, max = median * 1.05): Spread {
  return { median, min, max, all: [min, median, max] };
}

/** A system's result; latencies grow from `fastestMs` to 20 times that at the 100th percentile. */
function system(throughput: number, ratio: number | null, fastestMs: number, extra: Record<string, number> = {}): SystemResult {
  const quantiles = Array.from({ length: 101 }, (_, i) => fastestMs * (1 + (19 * i) / 100));
  return {
    throughputPerSec: spread(throughput), p50Ms: spread(quantiles[50]!), p99Ms: spread(quantiles[99]!),
    latencyQuantilesMs: quantiles, throughputRatioToDirect: ratio === null ? null : spread(ratio, ratio - 0.02, ratio + 0.02),
    cpuUsPerCall: ratio === null ? null : spread(85), rssMiB: ratio === null ? null : 120,
    calls: throughput * 30, errors: 0, errorSamples: [], extra,
  };
}

const WD_REASON = 'Waggle Dance 3.4.0 cannot list 100,000 partitions within its 10 s request timeout';

const workloads: WorkloadResult[] = [
  {
    part: 'reads', name: 'get_table x16', description: 'get_table on 16 persistent connections',
    concurrency: 16, connectionPerCall: false, notes: ['tables of 20 columns'],
    // hms-router at 0.85 of direct (goal 0.9: NOT met), well ahead of waggle-dance (met).
    systems: { direct: system(10_000, null, 0.5), 'hms-router': system(8_500, 0.85, 0.6), 'waggle-dance': system(5_000, 0.5, 1.2) },
  },
  {
    part: 'reads', name: 'get_database <new conn> & close', description: 'a connection per call, as Presto does',
    concurrency: 8, connectionPerCall: true, notes: [],
    // 0.6 of direct with a new connection per call (goal 0.5: met), behind waggle-dance (NOT met).
    systems: {
      direct: system(2_000, null, 0.004), 'hms-router': { ...system(1_200, 0.6, 2), errors: 2, errorSamples: ['ECONNRESET | read'] },
      'waggle-dance': system(1_400, 0.7, 1.5),
    },
  },
  {
    part: 'large-listing', name: 'get_partitions 100k', description: 'every partition of a 100,000-partition table',
    concurrency: 1, connectionPerCall: false, notes: ['Thrift frames up to 2 GiB'],
    systems: { direct: system(0.08, null, 9_000), 'hms-router': system(0.079, 0.98, 9_100, { peakBufferMiB: 310.5 }), 'waggle-dance': { unavailable: WD_REASON } },
  },
];

const results: SuiteResults = {
  benchmark: 'suite', date: '2025-01-02T03:04:05.000Z', command: 'npm run bench:suite -- --seconds 30 --rounds 3',
  hiveVersion: '3.1.3', waggleDance: { version: '3.4.0', javaFlags: ['-Xmx2g', '-XX:+UseG1GC'], unavailable: null },
  machine: { cpus: 8, memoryGiB: 31.3, node: 'v20.19.0', loadAverageAtStart: [0.5, 0.4, 0.3], loadAverageAtEnd: [4.1, 3.2, 2.0] },
  secondsPerRun: 30, rounds: 3,
  goals: { persistentThroughputRatioAtLeast: 0.9, connectionPerCallThroughputRatioAtLeast: 0.5, aheadOfWaggleDance: true },
  workloads, minutes: 42,
};

/** The goals table's row of a workload. */
function goalRow(markdown: string, workload: string): string {
  const goals = markdown.slice(markdown.indexOf('## Goals'), markdown.indexOf('## Part:'));
  const row = goals.split('\n').find((l) => l.startsWith(`| ${workload} |`));
  expect(row, `goals row of ${workload}`).toBeDefined();
  return row!;
}

/** Throws unless every tag is closed in order (a stand-in for an XML parser). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
  // Text is escaped: no stray '<' or bare '&'.
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/<|&(?!(amp|lt|gt|quot|apos);)/);
}

describe('benchmark suite report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  const { reportFile, plots } = writeReport(results, dir);
  const markdown = readFileSync(reportFile, 'utf8');

  it('names every workload and system, and why a system did not run', () => {
    // As GitHub shows them: '<new conn>' left raw would be taken for an HTML tag and vanish.
    const shown = (text: string) => text.replace(/</g, '&lt;').replace(/>/g, '&gt;');
    for (const w of workloads) expect(markdown).toContain(shown(w.name));
    expect(markdown).not.toContain('<new conn>');
    for (const s of ['direct', 'hms-router', 'waggle-dance']) expect(markdown).toContain(`| ${s} |`);
    expect(markdown).toContain(`unavailable: ${WD_REASON}`);
    expect(markdown).toContain(results.command);
    expect(markdown).toContain('-XX:+UseG1GC');
    expect(markdown).toContain('peakBufferMiB=311');
    expect(markdown).toContain('Thrift frames up to 2 GiB');
    expect(markdown).toContain('ECONNRESET | read');
    // Parts in order, none without workloads.
    expect(markdown.indexOf('## Part: reads')).toBeLessThan(markdown.indexOf('## Part: large-listing'));
    expect(markdown).not.toContain('## Part: mixed');
  });

  it('gives the goal verdicts', () => {
    // Persistent connections at 0.85 of direct against a goal of 0.9, ahead of waggle-dance.
    expect(goalRow(markdown, 'get_table x16')).toMatch(/\| 0\.85 \[0\.83\.\.0\.87\] \| ≥ 0\.90 \| NOT met \| 1\.70 \| met \(ahead; faster in 3 of 3 rounds\) \|$/);
    // A connection per call at 0.6 against 0.5, behind waggle-dance.
    expect(goalRow(markdown, 'get_database &lt;new conn&gt; & close')).toMatch(/\| ≥ 0\.50 \| met \| 0\.86 \| NOT met \(behind/);
    // Waggle Dance could not run it: no verdict either way.
    expect(goalRow(markdown, 'get_partitions 100k')).toMatch(/\| met \| – \| not measured \(waggle-dance unavailable\) \|$/);
    expect(markdown).toContain('**3 met, 2 NOT met, 1 not measured**');
  });

  it('links only plots that exist, each well-formed SVG with one curve per system with latencies', () => {
    const links = [...markdown.matchAll(/!\[([^\]]*)\]\(([^)]+)\)/g)].map((m) => ({ alt: m[1]!, path: m[2]! }));
    expect(links.map((l) => join(dir, l.path)).sort()).toEqual([...plots].sort());
    for (const { alt, path } of links) {
      expect(path).toMatch(/^plots\/[\w.-]+\.svg$/);
      expect(existsSync(join(dir, path))).toBe(true);
      const svg = readFileSync(join(dir, path), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      assertBalanced(svg);
      const w = workloads.find((x) => alt === `${x.name.replace(/</g, '&lt;').replace(/>/g, '&gt;')} latency CDF`);
      if (w === undefined) continue; // a throughput bar chart
      const ran = Object.values(w.systems).filter((r) => !('unavailable' in r)).length;
      expect(svg.match(/<(polyline|path)\b/g)?.length, alt).toBe(ran);
    }
    expect(links.filter((l) => l.alt.endsWith('latency CDF'))).toHaveLength(workloads.length);
    // One throughput chart per part and method.
    expect(links.filter((l) => l.alt.endsWith('throughput')).map((l) => l.alt).sort())
      .toEqual(['large-listing get_partitions throughput', 'reads get_database throughput', 'reads get_table throughput']);
  });

  it('skips a system whose quantiles are all zero', () => {
    const zero = { ...system(1, 0.9, 1), latencyQuantilesMs: new Array<number>(101).fill(0) };
    const one: SuiteResults = { ...results, workloads: [{ ...workloads[0]!, systems: { ...workloads[0]!.systems, 'waggle-dance': zero } }] };
    const { markdown: md, plots: svgs } = renderReport(one);
    const cdf = svgs.find((p) => p.file.includes('latency'))!;
    expect(cdf.svg.match(/<polyline\b/g)).toHaveLength(2);
    expect(md).toContain('No latency curve for waggle-dance');
  });

  it('shows how each proxy\'s answers compare with direct\'s, and qualifies a comparison where they differ', () => {
    const getTable: WorkloadResult = { ...workloads[0]!, name: 'get_table x1' };
    const listing: WorkloadResult = { ...workloads[0]!, name: 'get_all_databases x16' };
    const probed: SuiteResults = {
      ...results, workloads: [getTable, listing],
      probes: {
        'hms-router': { fidelity: { get_table: 'identical' }, freshness: 'a database created after the connection opened is listed on it at once' },
        'waggle-dance': {
          fidelity: { get_table: 'differs: Table fields 17, 18 missing (617 bytes against 635)' },
          freshness: 'a database created after the connection opened is NOT listed on that connection',
        },
      },
    };
    const { markdown: md } = renderReport(probed);
    expect(md).toContain('## Answers compared with direct');
    expect(md).toMatch(/\| hms-router \| identical \| a database created after the connection opened is listed on it at once \|/);
    expect(md).toContain('| waggle-dance | differs: Table fields 17, 18 missing (617 bytes against 635) |');
    expect(goalRow(md, 'get_table x1')).toContain("waggle-dance's reply differs from direct's, see Answers");
    expect(goalRow(md, 'get_all_databases x16')).toContain('waggle-dance answers from the list taken when the connection opened');
    // Without probes (older results) there is no such section and no caveat.
    expect(markdown).not.toContain('## Answers compared with direct');
    expect(goalRow(markdown, 'get_table x16')).not.toContain('see Answers');
  });

  it('counts a proxy that gave no right answer as beaten, not as faster', () => {
    const wrong = { ...system(0, 0, 5_000), calls: 0, errors: 3, errorSamples: ['get_partitions: 91416669 reply bytes, direct answered 92516669'] };
    const one: SuiteResults = { ...results, workloads: [{ ...workloads[2]!, systems: { ...workloads[2]!.systems, 'waggle-dance': wrong } }] };
    expect(goalRow(renderReport(one).markdown, 'get_partitions 100k')).toMatch(/\| – \| met \(waggle-dance gave no right answer \(3 wrong or failed\)\) \|$/);
  });

  it('is the same for the same input', () => {
    const again = renderReport(results);
    expect(again.markdown).toBe(markdown);
    for (const p of again.plots) expect(readFileSync(join(dir, 'plots', p.file), 'utf8')).toBe(p.svg);
  });

  it('maps latency on a log scale: 1 ms left of 10 ms, a decade apart evenly, tiny values clamped', () => {
    const x = logScale(0.01, 10_000, 0, 600);
    expect(x(1)).toBeLessThan(x(10));
    expect(x(10) - x(1)).toBeCloseTo(x(100) - x(10), 9);
    expect(x(0.0001)).toBe(x(MIN_LOG_MS));
    expect(x(10_000)).toBe(600);
    // The large listing's seconds-long calls get seconds on the axis, the 4 µs direct calls the floor.
    const largeListing = readFileSync(join(dir, 'plots', 'large-listing-get-partitions-100k-latency.svg'), 'utf8');
    expect(largeListing).toContain('>100 s<');
    const perCall = readFileSync(join(dir, 'plots', 'reads-get-database-new-conn-close-latency.svg'), 'utf8');
    expect(perCall).toContain('>0.01 ms<');
  });
});
