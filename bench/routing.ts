/**
 * The cost of routing with a large map: 10,000 routes (8,000 exact names, 1,000 globs, 1,000
 * regexes) against a one-route map. Writes bench/results/routing.json.
 *
 *   npm run bench:routing [-- --seconds 5 --rounds 3]
 *
 * 1. In process: resolveMetastore per lookup, for exact hits, pattern hits, and misses that scan
 *    every pattern (first lookup of a name, and repeated lookups that the per-map memo answers).
 * 2. End to end, on the real rw metastore: get_database through a router process started with each
 *    map, alternating rounds; ratio of throughput and added p50.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../stack/stack';
import { REPO_ROOT } from '../stack/layout';
import { compileRoutingMap, RoutingMap } from '../src/routing/routing-map';
import { resolveMetastore } from '../src/routing/matcher';
import { HmsTestClient, args as callArgs } from '../test/support/hms-test-client';
import { numericFlag, percentile, startRouterProcess, stopRouterProcess } from './support';

const SECONDS = numericFlag('--seconds', 5);
const ROUNDS = numericFlag('--rounds', 3);
const stack = status();

function bigRouting(): object {
  const routes: object[] = [];
  for (let i = 0; i < 8000; i++) routes.push({ database: `db_${String(i).padStart(5, '0')}`, metastore: i % 2 ? 'fed' : 'rw' });
  for (let i = 0; i < 1000; i++) routes.push({ glob: `team_${String(i).padStart(4, '0')}_*`, metastore: i % 2 ? 'fed' : 'rw' });
  for (let i = 0; i < 1000; i++) routes.push({ regex: `proj_${String(i).padStart(4, '0')}_[a-z]+`, metastore: i % 2 ? 'fed' : 'rw' });
  return { routes };
}
const smallRouting = { routes: [{ glob: 'fed_*', metastore: 'fed' }] };

function compile(routing: object): RoutingMap {
  const r = compileRoutingMap({ ...routing, defaultMetastore: 'rw' }, ['rw', 'fed']);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.map;
}

/** Nanoseconds per lookup of `names`, each looked up once per pass. */
function lookupNs(map: RoutingMap, names: string[], passes: number): number {
  const t = process.hrtime.bigint();
  for (let p = 0; p < passes; p++) for (const n of names) resolveMetastore(map, n, null);
  return Number(process.hrtime.bigint() - t) / (names.length * passes);
}

function inProcess(): object {
  const small = compile(smallRouting);
  const big = compile(bigRouting());
  const exact = Array.from({ length: 1000 }, (_, i) => `db_${String(i * 7).padStart(5, '0')}`);
  const globHits = Array.from({ length: 1000 }, (_, i) => `team_${String(999 - i).padStart(4, '0')}_x`);
  const missesCold = (tag: string) => Array.from({ length: 2000 }, (_, i) => `nomatch_${tag}_${i}`);
  const row = (map: RoutingMap) => ({
    exactNs: +lookupNs(map, exact, 50).toFixed(0),
    patternHitColdNs: +lookupNs(map, globHits, 1).toFixed(0),
    patternHitWarmNs: +lookupNs(map, globHits, 50).toFixed(0),
    missColdNs: +lookupNs(map, missesCold(map === big ? 'big' : 'small'), 1).toFixed(0),
    missWarmNs: +lookupNs(map, missesCold(map === big ? 'big' : 'small'), 50).toFixed(0),
  });
  lookupNs(big, exact, 5); // JIT warm-up
  return { oneRoute: row(small), tenThousandRoutes: row(big) };
}

async function endToEnd(): Promise<object> {
  const ports = { small: [19986, 19987], big: [19988, 19989] } as const;
  const routers = {
    small: await start('routing-small', smallRouting, ports.small),
    big: await start('routing-big', bigRouting(), ports.big),
  };
  const samples: Record<'small' | 'big', Array<{ throughput: number; p50: number }>> = { small: [], big: [] };
  try {
    for (const which of ['small', 'big'] as const) await measure(ports[which][0], 1);
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of ['small', 'big'] as const) samples[which].push(await measure(ports[which][0], SECONDS));
    }
  } finally {
    await stopRouterProcess(routers.small);
    await stopRouterProcess(routers.big);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = (s: Array<{ throughput: number; p50: number }>) => ({
    throughputPerSec: Math.round(med(s.map((x) => x.throughput))), p50Ms: +med(s.map((x) => x.p50)).toFixed(3),
    throughputSpread: s.map((x) => Math.round(x.throughput)),
  });
  const small = summary(samples.small);
  const big = summary(samples.big);
  return {
    workload: "get_database('default') x1 (no route matches 'default': every pattern is scanned on first lookup)",
    oneRoute: small, tenThousandRoutes: big,
    throughputRatio: +(big.throughputPerSec / small.throughputPerSec).toFixed(3),
    addedLatencyPct: +(((big.p50Ms - small.p50Ms) / small.p50Ms) * 100).toFixed(1),
  };
}

function start(name: string, routing: object, [port, admin]: readonly [number, number]) {
  return startRouterProcess(name, [JSON.stringify({
    server: { host: '127.0.0.1', port }, admin: { port: admin }, log: { level: 'warn' },
    metastores: {
      rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } },
      fed: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
    },
    defaultMetastore: 'rw',
    routing,
  })], admin);
}

async function measure(port: number, seconds: number): Promise<{ throughput: number; p50: number }> {
  const client = await HmsTestClient.connect(port);
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const t = performance.now();
  while (performance.now() < deadline) {
    const t0 = performance.now();
    await client.success('get_database', callArgs.name('default'));
    latencies.push(performance.now() - t0);
  }
  client.close();
  return { throughput: latencies.length / ((performance.now() - t) / 1000), p50: percentile(latencies, 50) };
}

async function main(): Promise<void> {
  if (!stack.running) throw new Error("the local stack is not running; start it with 'npm run stack -- up'");
  const report = {
    benchmark: 'routing', date: new Date().toISOString(), goal: { addedLatencyPctBelow: 5 },
    inProcessLookup: inProcess(),
    endToEnd: await endToEnd(),
  };
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench', 'results', 'routing.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((err: Error) => { process.stderr.write(`bench: ${err.message}\n`); process.exit(1); });
