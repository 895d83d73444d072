/**
 * The benchmark suite (issue #9): hms-router against the metastore directly and against Waggle
 * Dance, side by side in the same run, on the local real stack. One command:
 *
 *   npm run bench [-- --seconds 3 --rounds 3 --parts reads,mixed,federated,large-listing,cache --cache-seconds 1]
 *
 * Writes bench/results/suite.json and bench/results/REPORT.md (tables and latency plots); the cache
 * part (issue #15, bench/suite/cache.ts) writes bench/results/cache.json and its section of the
 * report, with its own run length (--cache-seconds, 1 s: it measures 8 workloads on 3 systems). Waggle
 * Dance is downloaded from Maven Central into the cache on first use; if it cannot run, the report
 * says exactly why and the rest of the suite runs without it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, up } from '../../stack/stack';
import { REPO_ROOT } from '../../stack/layout';
import { machineInfo, loadAverage, numericFlag } from '../support';
import { ensureLargeTable } from '../large-table';
import { measure, MeasureOptions, Target } from './measure';
import type { PartName, SuiteResults, SystemName, WorkloadResult } from './results';
import { createMixedTables, createPartitionedTable, dropDatabases, FED_DB, MIXED_DB, READS_DB } from './objects';
import { mixedWorkload, readWorkloads } from './workloads';
import { largeListingWorkload, referenceReplyBytes } from './large-listing';
import { Proxies, routerConfig, RouterProcess } from './systems';
import { writeReport } from './report';
import { probeProxy } from './fidelity';
import type { CacheResults, ProbeResult } from './results';
import { cacheSecondsFlag, runCachePart } from './cache';

const ALL_PARTS: readonly PartName[] = ['reads', 'mixed', 'federated', 'large-listing', 'cache'];
const SECONDS = numericFlag('--seconds', 3);
const ROUNDS = numericFlag('--rounds', 3);
const MIXED_CALLERS = 16;
const LARGE_PARTITIONS = 100_000;
/** One call per round of a seconds-long listing: more rounds, or one slow call decides the ratio. */
const LARGE_LISTING_MIN_ROUNDS = 5;

function partsFlag(): readonly PartName[] {
  const i = process.argv.indexOf('--parts');
  if (i < 0) return ALL_PARTS;
  const asked = (process.argv[i + 1] ?? '').split(',').filter((p) => p !== '');
  const bad = asked.filter((p) => !ALL_PARTS.includes(p as PartName));
  if (bad.length > 0 || asked.length === 0) throw new Error(`--parts takes a comma-separated list of ${ALL_PARTS.join(', ')}; got '${process.argv[i + 1] ?? ''}'`);
  return asked as PartName[];
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const parts = partsFlag();
  const loadAtStart = loadAverage();
  const stack = status().running ? status() : await up(undefined, log);
  // A warm-up as long as a run: Waggle Dance and the metastores are JVMs, cold until the JIT has seen the calls.
  const options: MeasureOptions = { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: SECONDS, log };
  const proxies = new Proxies(log);
  const workloads: WorkloadResult[] = [];
  const probes: Partial<Record<SystemName, ProbeResult>> = {};
  const rw = { name: 'rw', uri: `thrift://127.0.0.1:${stack.metastores.rw.port}` };
  const fed = { name: 'fed', uri: `thrift://127.0.0.1:${stack.metastores.fed.port}` };
  const direct = (port: number): Target => ({ system: 'direct', port, pid: null });
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  let cache: CacheResults | undefined;
  try {
    // The cache part compares the router with and without its cache: no Waggle Dance.
    if (parts.some((p) => p !== 'cache')) await proxies.installWaggleDance();
    const needsStackWaggleDance = parts.some((p) => p !== 'large-listing' && p !== 'cache');
    if (needsStackWaggleDance) await proxies.startWaggleDance('stack', rw, [{ ...fed, mappedDatabases: [FED_DB] }]);

    if (parts.includes('reads')) {
      const names = await createPartitionedTable(stack.metastores.rw.port, READS_DB, stack.warehouse);
      const router = await proxies.startRouter('reads', routerConfig({ rw: { endpoint: stack.metastores.rw.port } }, 'rw'));
      for (const t of [router.target(), proxies.waggleDanceTarget('stack')]) {
        if ('port' in t) probes[t.system] = await probeProxy(t.port, stack.metastores.rw.port, READS_DB, names, stack.warehouse);
      }
      for (const w of readWorkloads(READS_DB, names)) {
        workloads.push(await measure(w, [direct(stack.metastores.rw.port), router.target(), proxies.waggleDanceTarget('stack')], options));
      }
      await proxies.stopRouter(router);
    }

    if (parts.includes('mixed')) {
      await createMixedTables(stack.metastores.rw.port, stack.warehouse, MIXED_CALLERS);
      // With the split (what the issue asks for), then without it: like for like with the other two.
      for (const split of [true, false]) {
        const router = await proxies.startRouter(split ? 'mixed-split' : 'mixed-primary', routerConfig({
          rw: {
            endpoint: stack.metastores.rw.port,
            mysql: { port: stack.mysql.primary.port, ...stack.routerMysqlUser },
            ...(split ? { replica: { endpoint: stack.metastores.ro.port, mysql: { port: stack.mysql.replica.port, ...stack.routerMysqlUser } } } : {}),
          },
        }, 'rw'));
        workloads.push(await measure(mixedWorkload(stack.warehouse, MIXED_CALLERS, split),
          [direct(stack.metastores.rw.port), router.target({ replicaShare: split }), proxies.waggleDanceTarget('stack')], options));
        await proxies.stopRouter(router);
      }
    }

    if (parts.includes('federated')) {
      const names = await createPartitionedTable(stack.metastores.fed.port, FED_DB, stack.warehouse);
      const router = await proxies.startRouter('federated', routerConfig(
        { rw: { endpoint: stack.metastores.rw.port }, fed: { endpoint: stack.metastores.fed.port } }, 'rw', [{ database: FED_DB, metastore: 'fed' }]));
      const reads = readWorkloads(FED_DB, names).filter((w) => !w.name.startsWith('get_all_databases') && (w.concurrency === 16 || w.concurrency === 1));
      for (const w of reads) {
        const federated = {
          ...w, part: 'federated' as const,
          description: `${w.description}, a database of the second metastore (fed); direct = straight to fed; Waggle Dance in MANUAL mode with fed as a federated metastore`,
        };
        workloads.push(await measure(federated, [direct(stack.metastores.fed.port), router.target(), proxies.waggleDanceTarget('stack')], options));
      }
      await proxies.stopRouter(router);
    }

    if (needsStackWaggleDance) await proxies.stopWaggleDance('stack');

    if (parts.includes('large-listing')) {
      const table = await ensureLargeTable({ partitions: LARGE_PARTITIONS, log });
      try {
        const big = { name: 'big', uri: table.metastoreUri };
        // A 90 MB reply is decoded into Java objects by Waggle Dance: give it the heap for that.
        await proxies.startWaggleDance('big', big, [], '3g');
        const router = await proxies.startRouter('large-listing', routerConfig({ big: { endpoint: table.metastorePort } }, 'big'));
        const bytes = await referenceReplyBytes(table.metastorePort, table.db, table.table);
        workloads.push(await measure(largeListingWorkload(table.db, table.table, table.partitions, bytes),
          [direct(table.metastorePort), router.target(), proxies.waggleDanceTarget('big')], { ...options, rounds: Math.max(options.rounds, LARGE_LISTING_MIN_ROUNDS), seconds: 0.001, warmupSeconds: 0 }));
        await proxies.stopRouter(router);
        await proxies.stopWaggleDance('big');
      } finally {
        await table.stop();
      }
    }

    if (parts.includes('cache')) {
      const seconds = cacheSecondsFlag();
      cache = await runCachePart({ stack, proxies, log, seconds, warmupSeconds: seconds, rounds: ROUNDS, command });
    }
  } finally {
    await proxies.stopAll();
    await dropDatabases(stack.metastores.rw.port, [READS_DB, MIXED_DB]).catch(() => undefined);
    await dropDatabases(stack.metastores.fed.port, [FED_DB]).catch(() => undefined);
  }

  const machine = machineInfo();
  const results: SuiteResults = {
    benchmark: 'suite',
    date: new Date().toISOString(),
    command,
    hiveVersion: stack.hiveVersion,
    waggleDance: proxies.waggleDanceInfo(),
    machine: { cpus: machine.cpus, memoryGiB: machine.memoryGiB, node: machine.node, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
    secondsPerRun: SECONDS,
    rounds: ROUNDS,
    goals: { persistentThroughputRatioAtLeast: 0.9, connectionPerCallThroughputRatioAtLeast: 1.0, aheadOfWaggleDance: true },
    workloads,
    probes,
    minutes: +((Date.now() - started) / 60_000).toFixed(1),
  };
  const out = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  if (cache !== undefined) writeFileSync(join(out, 'cache.json'), `${JSON.stringify(cache, null, 2)}\n`);
  // The cache part alone keeps the suite's last results: the report is redone from them with its new section.
  const suiteFile = join(out, 'suite.json');
  const cacheOnly = parts.every((p) => p === 'cache');
  if (cacheOnly && existsSync(suiteFile)) {
    const { reportFile } = writeReport(JSON.parse(readFileSync(suiteFile, 'utf8')) as SuiteResults, out);
    log(`wrote bench/results/cache.json and its section of ${reportFile} (suite.json kept) in ${results.minutes} min`);
    return;
  }
  writeFileSync(suiteFile, `${JSON.stringify(results, null, 2)}\n`);
  const { reportFile } = writeReport(results, out);
  log(`wrote bench/results/suite.json${cache === undefined ? '' : ', cache.json'} and ${reportFile} in ${results.minutes} min`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

export type { SystemName };
