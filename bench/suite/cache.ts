/**
 * The metadata cache's benchmark (issue #15), the suite's part `cache`. Three systems in the same
 * run, rounds alternating as every suite workload does (bench/suite/measure.ts): the metastore
 * directly, the router without its cache, the router with it (two router processes side by side).
 * A counting relay (bench/counting-relay.ts) between each router and each metastore endpoint counts
 * what the metastores receive; the cache's own counters come from the router's /metrics, as deltas
 * per round.
 *
 * - Hot reads: get_table and get_partition_names on four unchanging tables of 240 partitions, x1,
 *   x16, x64 on persistent connections and x16 with a new connection per call. Every reply is
 *   compared, byte for byte after its message header (so seqids aside), with the metastore's own
 *   answer for that object taken before the rounds: a difference is a stale answer.
 * - Mixed: 10 reads per write, 16 callers on persistent connections (session consistency, reads
 *   split to the replica). Each caller alters a parameter of its own table, then reads: its own
 *   table (it must see its last write: read-after-write) and hot tables (compared as above).
 *   Metastore calls on the primary and on the replica per client call, with and without the cache,
 *   and the statements the primary's and the replica's MySQL executed per client call. Twice: every
 *   caller from 127.0.0.1 (one client host, which the router's own-write rules take for one client),
 *   then each caller from an address of its own (sixteen client hosts).
 *
 * Alone (writes bench/results/cache.json, prints it, and redoes bench/results/REPORT.md, whose
 * cache section it feeds, from the suite.json beside it):
 *
 *   npm run bench:cache [-- --seconds 1 --rounds 3]
 *
 * In the suite, `npm run bench -- --parts cache [--cache-seconds 1]`: the suite's --seconds (3 s)
 * would make this part take 6 minutes, so it has its own run length; --rounds is shared.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { status, up, type StackStatus } from '../../stack/stack';
import { REPO_ROOT } from '../../stack/layout';
import { MessageType } from '../../src/thrift/protocol';
import type { BinaryWriter } from '../../src/thrift/binary-writer';
import { decodeStruct, type ThriftStruct, type ThriftValue } from '../../src/thrift/value-decoder';
import { HmsTestClient, args } from '../../test/support/hms-test-client';
import { addPartitionsArgs, alterTableArgs, createTableArgs, dbTableArgs, partitionNamesArgs } from '../../test/support/hms-objects';
import { startCountingRelay, type CountingRelay } from '../counting-relay';
import { loadAverage, machineInfo, numericFlag, scrapeMetrics, sumSeries } from '../support';
import { measure, median, type MeasureOptions, type Target, type Workload } from './measure';
import type { WorkloadCall } from './load';
import { isUnavailable, type CacheGoal, type CacheResults, type SuiteResults, type SystemName, type SystemResult, type WorkloadResult } from './results';
import { tableSpec } from './objects';
import { SHAPES } from './workloads';
import { Proxies, routerConfig, type RouterPorts, type RouterProcess } from './systems';
import { writeReport } from './report';

export const CACHE_DB = 'bench_suite_cache';
const HOT_TABLES = ['hot0', 'hot1', 'hot2', 'hot3'];
const MIXED_CALLERS = 16;
/** One write, then ten reads, per caller. */
const MIXED_CYCLE = 11;
const HOT_METHODS = ['get_table', 'get_partition_names'] as const;
type HotMethod = typeof HOT_METHODS[number];
const DEFAULT_SECONDS = 1;

/** The goals of issue #15. */
export const CACHE_GOALS = { throughputRatioAtLeast: 5, hitP50MsAtMost: 0.3, metastoreCallsPerCallAtMost: 0.05, stale: 0 } as const;

/** Ports of this part alone (the suite's other parts use 19960-19991): two relays per router in the mixed phase. */
const PORTS = {
  hot: {
    relayPlain: 19931, relayCached: 19932,
    plain: { port: 19933, adminPort: 19934 }, cached: { port: 19935, adminPort: 19936 },
  },
  mixed: {
    relayPlainPrimary: 19937, relayPlainReplica: 19938, relayCachedPrimary: 19939, relayCachedReplica: 19940,
    plain: { port: 19941, adminPort: 19942 }, cached: { port: 19943, adminPort: 19944 },
  },
} as const;

/** How often a round samples the router with cache's feed lag gauge. */
const FEED_LAG_SAMPLE_MS = 200;

/** The metastore's health probe (fb303 getStatus on a fresh connection every 5 s): not a call any client made. */
const NOT_CLIENT_WORK = new Set(['getStatus']);

export interface CachePartOptions {
  readonly stack: StackStatus;
  readonly proxies: Proxies;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly command: string;
  readonly log: (line: string) => void;
}

// ---- Objects and the metastore's own answers ----

type ArgsWriter = (w: BinaryWriter) => void;

const hotArgs = (method: HotMethod, table: string): ArgsWriter =>
  (method === 'get_table' ? dbTableArgs(CACHE_DB, table) : partitionNamesArgs(CACHE_DB, table));

/** The reply's body (result struct onward): what a cached answer must repeat exactly. */
const body = (bytes: Buffer, bodyOffset: number): Buffer => bytes.subarray(bodyOffset);

async function withClient<T>(port: number, fn: (c: HmsTestClient) => Promise<T>): Promise<T> {
  const c = await HmsTestClient.connect(port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** The hot tables (240 partitions each, 10 days x 24 hours) and one table per mixed caller (parameter seq=0). */
async function createObjects(port: number, warehouse: string): Promise<void> {
  await withClient(port, async (c) => {
    await c.call('drop_database', args.dropDatabase(CACHE_DB));
    await c.success('create_database', args.createDatabase(CACHE_DB, `${warehouse}/${CACHE_DB}.db`));
    const values: string[][] = [];
    for (let d = 1; d <= 10; d++) for (let h = 0; h < 24; h++) values.push([`2026-11-${String(d).padStart(2, '0')}`, String(h)]);
    for (const table of HOT_TABLES) {
      const spec = tableSpec(CACHE_DB, warehouse, table);
      await c.success('create_table', createTableArgs(spec));
      await c.success('add_partitions', addPartitionsArgs(spec, values));
    }
    for (let i = 0; i < MIXED_CALLERS; i++) await c.success('create_table', createTableArgs(mixedSpec(warehouse, i, 0)));
  });
}

const mixedSpec = (warehouse: string, caller: number, seq: number) => tableSpec(CACHE_DB, warehouse, `w${caller}`, { seq: String(seq) });

/** The metastore's answer per (method, hot table), asked twice: an answer that differs between the two cannot be checked. */
async function referenceBodies(port: number): Promise<{ refs: Map<string, Buffer>; unstable: string[] }> {
  const refs = new Map<string, Buffer>();
  const unstable: string[] = [];
  await withClient(port, async (c) => {
    for (const method of HOT_METHODS) {
      for (const table of HOT_TABLES) {
        const [a, b] = [await c.raw(method, hotArgs(method, table)), await c.raw(method, hotArgs(method, table))];
        if (a.header.type !== MessageType.REPLY) throw new Error(`${method} ${CACHE_DB}.${table}: the reference call failed`);
        const bodyA = body(a.bytes, a.header.bodyOffset);
        if (!bodyA.equals(body(b.bytes, b.header.bodyOffset))) unstable.push(`${method} ${table}`);
        refs.set(`${method} ${table}`, Buffer.from(bodyA));
      }
    }
  });
  return { refs, unstable };
}

// ---- What each round counts ----

/** Shared by a phase's calls: client calls of the round in progress, and samples of wrong answers per system. */
class RoundTally {
  system: SystemName | null = null;
  /** The port of the system in the round in progress (calls that open their own connections use it). */
  port: number | null = null;
  calls = 0;
  readonly samples = new Map<SystemName, string[]>();

  start(system: SystemName, port: number): void { this.system = system; this.port = port; this.calls = 0; }

  /** The round's client calls; calls made from now on (a warm-up) belong to no round. */
  finish(): number { this.system = null; this.port = null; return this.calls; }

  wrong(text: string): void {
    if (this.system === null) return;
    const list = this.samples.get(this.system) ?? [];
    if (list.length < 3 && !list.includes(text)) list.push(text);
    this.samples.set(this.system, list);
  }
}

/** Something measured around each round of one system: figures for its `extra` (medians over rounds). */
interface RoundProbe {
  start(): Promise<void>;
  finish(clientCalls: number): Promise<Record<string, number>>;
}

const per = (n: number, calls: number) => (calls === 0 ? NaN : +(n / calls).toFixed(4));

/** Calls a relay saw (health probes aside) per client call, as `<key>CallsPerCall`; methods tallied over the rounds. */
function relayProbe(relay: CountingRelay, key: string, methods: Map<string, number>): RoundProbe {
  return {
    start: () => relay.reset(),
    async finish(calls) {
      const report = await relay.report();
      let counted = 0;
      for (const [method, n] of Object.entries(report.callsByMethod)) {
        if (NOT_CLIENT_WORK.has(method)) continue;
        counted += n;
        methods.set(method, (methods.get(method) ?? 0) + n);
      }
      return { [`${key}CallsPerCall`]: per(counted, calls) };
    },
  };
}

/** Per value of `label`, how much the series of `name` (for metastore rw) grew from `before` to `after`, added to `into` as `<prefix><value>`. */
function tallyLabel(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, name: string, label: string, prefix: string, into: Map<string, number>): void {
  const by = (m: ReadonlyMap<string, number>) => {
    const out = new Map<string, number>();
    for (const [series, v] of m) {
      if (!series.startsWith(`${name}{`) || !series.includes('metastore="rw"')) continue;
      const value = new RegExp(`${label}="([^"]*)"`).exec(series)?.[1];
      if (value !== undefined) out.set(value, (out.get(value) ?? 0) + v);
    }
    return out;
  };
  const b = by(before);
  for (const [value, v] of by(after)) {
    const d = v - (b.get(value) ?? 0);
    if (d > 0) into.set(`${prefix}${value}`, (into.get(`${prefix}${value}`) ?? 0) + d);
  }
}

/**
 * The cache's counters of the router's /metrics, as deltas over the round (hits and misses of
 * `method`, or of every method); bypasses by reason, fills by outcome, feed resets and errors and
 * invalidations tallied over the rounds into `tally`.
 */
function cacheMetricsProbe(adminPort: number, method: string | null, tally: Map<string, number>): RoundProbe {
  let before = new Map<string, number>();
  const labels = ['metastore="rw"', ...(method === null ? [] : [`method="${method}"`])];
  // The feed's lag (seconds since its last complete read began) sampled through the round: how far behind the cache's answers may be.
  let lags: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  return {
    async start() {
      before = await scrapeMetrics(adminPort);
      lags = [];
      const samples = lags;
      sampler = setInterval(() => {
        scrapeMetrics(adminPort).then((m) => { samples.push(sumSeries(m, 'hms_router_cache_feed_lag_seconds', ['metastore="rw"']) * 1000); }, () => undefined);
      }, FEED_LAG_SAMPLE_MS);
    },
    async finish(calls) {
      clearInterval(sampler);
      const sampled = [...lags];
      lags = [];
      const after = await scrapeMetrics(adminPort);
      const delta = (name: string, l: readonly string[]) => sumSeries(after, name, l) - sumSeries(before, name, l);
      const hits = delta('hms_router_cache_hits_total', labels);
      const misses = delta('hms_router_cache_misses_total', labels);
      const bypasses = delta('hms_router_cache_bypasses_total', ['metastore="rw"']);
      tallyLabel(before, after, 'hms_router_cache_bypasses_total', 'reason', 'bypass ', tally);
      tallyLabel(before, after, 'hms_router_cache_fills_total', 'outcome', 'fill ', tally);
      tallyLabel(before, after, 'hms_router_cache_feed_resets_total', 'reason', 'feed reset ', tally);
      for (const [name, key] of [['hms_router_cache_feed_errors_total', 'feed errors'], ['hms_router_cache_invalidated_entries_total', 'invalidated entries']] as const) {
        const d = delta(name, ['metastore="rw"']);
        if (d > 0) tally.set(key, (tally.get(key) ?? 0) + d);
      }
      return {
        hits, misses, bypasses,
        hitRatio: hits + misses === 0 ? NaN : +(hits / (hits + misses)).toFixed(4),
        // Bypasses are reads the cache was asked for and declined: with them, the share it answered.
        hitsOfCacheableReads: hits + misses + bypasses === 0 ? NaN : +(hits / (hits + misses + bypasses)).toFixed(4),
        hitsPerCall: per(hits, calls),
        feedLagMsMedian: sampled.length === 0 ? NaN : Math.round(median(sampled)),
        feedLagMsMax: sampled.length === 0 ? NaN : Math.round(Math.max(...sampled)),
      };
    },
  };
}

/** The router's read fallbacks by reason (tallied), and the share of its reads each answered: primary, replica, cache. */
function routingProbe(adminPort: number, tally: Map<string, number>): RoundProbe {
  let before = new Map<string, number>();
  const reads = (m: ReadonlyMap<string, number>, role?: string) => sumSeries(m, 'hms_router_calls_total', ['kind="read"', 'metastore="rw"', ...(role ? [`role="${role}"`] : [])]);
  return {
    async start() { before = await scrapeMetrics(adminPort); },
    async finish() {
      const after = await scrapeMetrics(adminPort);
      tallyLabel(before, after, 'hms_router_read_fallbacks_total', 'reason', 'fallback ', tally);
      const all = reads(after) - reads(before);
      const share = (role: string) => (all === 0 ? NaN : +((reads(after, role) - reads(before, role)) / all).toFixed(4));
      return {
        readsFromPrimary: share('primary'), readsFromReplica: share('replica'), readsFromCache: share('cache'),
        // 1 when the router saw the replica stalled at the round's end (e.g. its SQL thread stopped by someone else): its reads went to the primary.
        replicaStalledAtEnd: sumSeries(after, 'hms_router_replica_stalled', ['metastore="rw"']),
      };
    },
  };
}

/** Waits until the router's replica is healthy (its first polls): a phase measured before would see the primary alone. */
async function replicaHealthy(adminPort: number, log: (line: string) => void): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (sumSeries(await scrapeMetrics(adminPort), 'hms_router_replica_healthy', ['metastore="rw"']) >= 1) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`cache: the replica of the router on admin port ${adminPort} was not healthy within 10 s; measuring anyway`);
}

/** Statements a MySQL server executed (its Questions counter) per client call, as `<key>MysqlStatementsPerCall`. */
function mysqlProbe(connection: mysql.Connection, key: string): RoundProbe {
  const questions = async () => {
    const [rows] = await connection.query("SHOW GLOBAL STATUS LIKE 'Questions'");
    return Number((rows as Array<{ Value: string }>)[0]?.Value ?? NaN);
  };
  let before = 0;
  return {
    async start() { before = await questions(); },
    // The SHOW STATUS of `start` is one of them: not the clients'.
    async finish(calls) { return { [`${key}MysqlStatementsPerCall`]: per((await questions()) - before - 1, calls) }; },
  };
}

function target(system: SystemName, port: number, pid: number | null, tally: RoundTally, probes: readonly RoundProbe[]): Target {
  return {
    system, port, pid,
    async beforeRound() {
      for (const p of probes) await p.start();
      tally.start(system, port);
    },
    async afterRound() {
      const calls = tally.finish();
      const out: Record<string, number> = { clientCalls: calls };
      for (const p of probes) Object.assign(out, await p.finish(calls));
      return out;
    },
  };
}

// ---- Workloads ----

function hotWorkload(method: HotMethod, shape: typeof SHAPES[number], refs: ReadonlyMap<string, Buffer>, tally: RoundTally): Workload {
  const writers = new Map(HOT_TABLES.map((t) => [t, hotArgs(method, t)]));
  const turn: number[] = [];
  const call: WorkloadCall = async (c, ctx) => {
    // Each caller walks the tables from its own starting point: all four stay hot at every concurrency.
    const n = (turn[ctx.worker] ?? ctx.worker) + 1;
    turn[ctx.worker] = n;
    const table = HOT_TABLES[n % HOT_TABLES.length]!;
    const reply = await c.raw(method, writers.get(table)!);
    tally.calls += 1;
    if (reply.header.type !== MessageType.REPLY) {
      throw new Error(`${method}: TApplicationException ${String(decodeStruct(reply.bytes, reply.header.bodyOffset).value[1])}`);
    }
    ctx.count('compared');
    const got = body(reply.bytes, reply.header.bodyOffset);
    const want = refs.get(`${method} ${table}`)!;
    if (!got.equals(want)) {
      ctx.count('stale');
      tally.wrong(`${method} ${table}: ${got.length} body bytes against direct's ${want.length}${got.length === want.length ? ', other bytes' : ''}`);
    }
  };
  return {
    part: 'cache',
    name: `${method} ${shape.label}`,
    description: `${method} on ${HOT_TABLES.length} tables of ${CACHE_DB} (240 partitions each), each caller walking them in turn; every reply compared with direct's`,
    concurrency: shape.concurrency,
    connectionPerCall: shape.connectionPerCall,
    call,
  };
}

function success(r: { type: number; result: ThriftStruct }, method: string): ThriftValue {
  if (r.type === MessageType.REPLY && r.result[0] !== undefined) return r.result[0];
  throw new Error(`${method}: ${r.type === MessageType.EXCEPTION ? `TApplicationException ${String(r.result[1])}` : 'exception reply'}`);
}

/**
 * 10 reads per write per caller: alter_table of its own table w<i> (seq += 1), then reads 1, 4, 7
 * and 10 of its own table (each must see that write), 2, 5, 8 get_table and 3, 6, 9
 * get_partition_names of a hot table (compared with direct's answer). The callers' last writes carry
 * across systems, rounds and variants (seq only grows): `written` is shared by both variants.
 *
 * `addresses`: 'shared', every caller connects from 127.0.0.1 (sixteen sessions of one client host,
 * an engine's coordinator); 'own', caller i connects from 127.0.0.(10 + i) (sixteen client hosts).
 * The router keys a client's own writes by address and user (client-mode tokens, and the cache's
 * hold-back after a write), so the two differ. The 'own' variant calls on a connection of its own
 * per caller, opened from that address to the port of the round's system (the load generator's
 * connection stays idle), so it runs only inside rounds: measure it with no warm-up.
 */
function mixedWorkload(warehouse: string, refs: ReadonlyMap<string, Buffer>, tally: RoundTally, written: number[],
  addresses: 'shared' | 'own'): { workload: Workload; close(): void } {
  const steps = new Array<number>(MIXED_CALLERS).fill(0);
  const own: Array<{ client: HmsTestClient; port: number } | undefined> = [];
  const connectionOf = async (c: HmsTestClient, w: number): Promise<HmsTestClient> => {
    if (addresses === 'shared') return c;
    const port = tally.port;
    if (port === null) throw new Error('the own-address variant runs only inside rounds (no warm-up)');
    const mine = own[w];
    if (mine !== undefined && mine.client.usable && mine.port === port) return mine.client;
    mine?.client.close();
    const client = await HmsTestClient.connect(port, 'buffered', '127.0.0.1', `127.0.0.${10 + w}`);
    own[w] = { client, port };
    return client;
  };
  const call: WorkloadCall = async (loadClient, ctx) => {
    const w = ctx.worker;
    const c = await connectionOf(loadClient, w);
    const step = steps[w]! % MIXED_CYCLE;
    steps[w] = steps[w]! + 1;
    if (step === 0) {
      const next = written[w]! + 1;
      const r = await c.call('alter_table', alterTableArgs(mixedSpec(warehouse, w, next)));
      tally.calls += 1;
      if (r.type !== MessageType.REPLY || Object.keys(r.result).length !== 0) throw new Error(`alter_table: ${r.type === MessageType.EXCEPTION ? 'TApplicationException' : 'exception'} ${String((r.result[1] as ThriftStruct | undefined)?.[1] ?? r.result[1])}`);
      written[w] = next;
      ctx.count('writes');
      return;
    }
    if (step % 3 === 1) {
      const table = success(await c.call('get_table', dbTableArgs(CACHE_DB, `w${w}`)), 'get_table') as ThriftStruct;
      tally.calls += 1;
      const params = (table[9] ?? []) as Array<[ThriftValue, ThriftValue]>;
      const seq = Number(params.find(([k]) => k === 'seq')?.[1] ?? NaN);
      ctx.count('ownReads');
      if (!(seq >= written[w]!)) {
        ctx.count('readAfterWriteViolations');
        tally.wrong(`w${w}: read seq=${seq} after its write of seq=${written[w]}`);
      }
      return;
    }
    const method: HotMethod = step % 3 === 2 ? 'get_table' : 'get_partition_names';
    const hot = HOT_TABLES[(w + step) % HOT_TABLES.length]!;
    const reply = await c.raw(method, hotArgs(method, hot));
    tally.calls += 1;
    if (reply.header.type !== MessageType.REPLY) throw new Error(`${method}: TApplicationException`);
    ctx.count('compared');
    if (!body(reply.bytes, reply.header.bodyOffset).equals(refs.get(`${method} ${hot}`)!)) {
      ctx.count('stale');
      tally.wrong(`${method} ${hot}: differs from direct's answer`);
    }
  };
  const workload: Workload = {
    part: 'cache',
    name: `mixed 10 reads per write x${MIXED_CALLERS}, ${addresses === 'shared' ? 'one client address' : 'an address per caller'}`,
    description: `${MIXED_CALLERS} callers on persistent connections ` +
      (addresses === 'shared' ? 'all from 127.0.0.1 (one client host: the router takes them for one client)' : `each from its own address 127.0.0.10-${10 + MIXED_CALLERS - 1} (a client host each)`) +
      '; per caller a cycle of alter_table of its own table (a parameter), then 4 get_table of that table and 6 reads of hot tables (get_table, get_partition_names); ' +
      'the routers split reads to the replica (session consistency)',
    concurrency: MIXED_CALLERS,
    connectionPerCall: false,
    call,
    notes: [
      ...(addresses === 'own' ? ['no warm-up (its connections are opened inside rounds); the one-address variant before it warmed the same objects on every system'] : []),
      'readAfterWriteViolations: own-table reads that did not see the caller\'s last write (must be 0); stale: hot reads that differ from direct\'s answer (must be 0)',
      'primary/replica CallsPerCall: calls the metastore behind each counting relay received per client call; direct sends everything to the primary without a relay (1 by construction, not measured)',
      'readsFrom{Primary,Replica,Cache}: the share of the router\'s reads each answered (its hms_router_calls_total by role); hitRatio: hits / (hits + misses), ' +
        'hitsOfCacheableReads: hits / (hits + misses + bypasses) (a bypass: the cache declined, e.g. the caller\'s token is ahead of the feed after its own write)',
      `feedLagMs{Median,Max}: the router with cache's hms_router_cache_feed_lag_seconds sampled every ${FEED_LAG_SAMPLE_MS} ms through the round (a read whose token is ahead of what the feed has read bypasses the cache)`,
      'MysqlStatementsPerCall: the MySQL server\'s Questions counter over the round per client call (the metastore\'s queries, the routers\' GTID reads and the idle router\'s polls; replication\'s applier is not counted)',
    ],
  };
  return { workload, close: () => { for (const o of own.splice(0)) o?.client.close(); } };
}

// ---- The part ----

interface Relays { readonly list: CountingRelay[]; start(listen: number, target: number): Promise<CountingRelay>; stopAll(): Promise<void> }

function relaySet(): Relays {
  const list: CountingRelay[] = [];
  return {
    list,
    async start(listen, targetPort) { const r = await startCountingRelay(listen, targetPort); list.push(r); return r; },
    async stopAll() { for (const r of list.splice(0)) await r.stop(); },
  };
}

/** The commit measured: HMS_ROUTER_COMMIT when the tree is an export (git archive) without .git, else HEAD. */
function gitCommit(): string | null {
  if (process.env.HMS_ROUTER_COMMIT) return process.env.HMS_ROUTER_COMMIT;
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function notificationLogMax(stack: StackStatus): Promise<number | null> {
  const m = stack.mysql.primary;
  const c = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password });
  try {
    const [rows] = await c.query(`SELECT COALESCE(MAX(NL_ID), 0) AS id FROM \`${m.database}\`.NOTIFICATION_LOG`);
    return Number((rows as Array<{ id: number | string }>)[0]?.id ?? 0);
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

/** The router with cache's gauges for metastore rw, and whether its cache counters exist at all. */
async function cacheGauges(adminPort: number): Promise<{ exported: boolean; gauges: Record<string, number> }> {
  const m = await scrapeMetrics(adminPort);
  const exported = [...m.keys()].some((k) => k.startsWith('hms_router_cache_'));
  const g = (name: string) => sumSeries(m, name, ['metastore="rw"']);
  return {
    exported,
    gauges: exported ? { entries: g('hms_router_cache_entries'), bytes: g('hms_router_cache_bytes'), feedLagSeconds: +g('hms_router_cache_feed_lag_seconds').toFixed(3) } : {},
  };
}

type StartedRouter = RouterProcess | { unavailable: string };

async function startOrExplain(proxies: Proxies, name: string, config: string[], ports: RouterPorts): Promise<StartedRouter> {
  try {
    return await proxies.startRouter(name, config, ports);
  } catch (err) {
    return { unavailable: `the router did not start: ${(err as Error).message}` };
  }
}

/** Adds what the rounds gathered besides figures: methods the metastores received, bypass reasons, wrong-answer samples. */
function withNotes(w: WorkloadResult, notes: readonly string[]): WorkloadResult {
  return { ...w, notes: [...w.notes, ...notes] };
}

const tallyText = (m: ReadonlyMap<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

export async function runCachePart(options: CachePartOptions): Promise<CacheResults> {
  const { stack, proxies, log } = options;
  const started = Date.now();
  const loadAtStart = loadAverage();
  const rwPort = stack.metastores.rw.port;
  const roPort = stack.metastores.ro.port;
  const primaryMysql = stack.mysql.primary;
  const routerMysql = (port: number) => ({ port, ...stack.routerMysqlUser });
  const cacheSpec = { enabled: true, feedDatabase: primaryMysql.database, feedMysql: { port: primaryMysql.port, user: primaryMysql.user, password: primaryMysql.password } };
  const measureOptions: MeasureOptions = { rounds: options.rounds, seconds: options.seconds, warmupSeconds: options.warmupSeconds, log };
  const relays = relaySet();
  const hotReads: WorkloadResult[] = [];
  const mixed: WorkloadResult[] = [];
  const gauges: Record<string, Record<string, number>> = {};
  let exported = false;
  let cachedRouterProblem: string | null = null;

  const logBefore = await notificationLogMax(stack);
  await createObjects(rwPort, stack.warehouse);
  const logAfter = await notificationLogMax(stack);
  const notificationLogWritten = logBefore === null || logAfter === null ? null : logAfter > logBefore;
  if (notificationLogWritten === false) log('cache: the metastore wrote no NOTIFICATION_LOG rows while the objects were created: the feed cannot see changes');
  const { refs, unstable } = await referenceBodies(rwPort);
  const mysqlConnections: mysql.Connection[] = [];

  try {
    // ---- Hot reads: one metastore, no replica ----
    const tally = new RoundTally();
    const relayPlain = await relays.start(PORTS.hot.relayPlain, rwPort);
    const relayCached = await relays.start(PORTS.hot.relayCached, rwPort);
    const plain = await proxies.startRouter('cache-hot-plain', routerConfig({ rw: { endpoint: PORTS.hot.relayPlain, mysql: routerMysql(primaryMysql.port) } }, 'rw', [], PORTS.hot.plain), PORTS.hot.plain);
    const cached = await startOrExplain(proxies, 'cache-hot-cached',
      routerConfig({ rw: { endpoint: PORTS.hot.relayCached, mysql: routerMysql(primaryMysql.port), cache: cacheSpec } }, 'rw', [], PORTS.hot.cached), PORTS.hot.cached);
    if ('unavailable' in cached) { cachedRouterProblem = cached.unavailable; log(`cache: ${cached.unavailable}`); }
    for (const method of HOT_METHODS) {
      for (const shape of SHAPES) {
        const plainMethods = new Map<string, number>();
        const cachedMethods = new Map<string, number>();
        const cacheTally = new Map<string, number>();
        const targets = [
          target('direct', rwPort, null, tally, []),
          target('hms-router', plain.ports.port, plain.child.pid!, tally, [relayProbe(relayPlain, 'metastore', plainMethods)]),
          'unavailable' in cached ? { system: 'hms-router-cache' as const, unavailable: cached.unavailable }
            : target('hms-router-cache', cached.ports.port, cached.child.pid!, tally,
              [relayProbe(relayCached, 'metastore', cachedMethods), cacheMetricsProbe(cached.ports.adminPort, method, cacheTally)]),
        ];
        tally.samples.clear();
        const w = await measure(hotWorkload(method, shape, refs, tally), targets, measureOptions);
        hotReads.push(withNotes(w, [
          `metastore calls received, hms-router: ${tallyText(plainMethods)}`,
          `metastore calls received, hms-router-cache: ${tallyText(cachedMethods)}`,
          `cache counters over the rounds, hms-router-cache: ${tallyText(cacheTally)}`,
          ...[...tally.samples].map(([system, samples]) => `wrong answers (${system}): ${samples.join('; ')}`),
        ]));
      }
    }
    if (!('unavailable' in cached)) {
      const g = await cacheGauges(cached.ports.adminPort);
      exported = g.exported;
      gauges.afterHotReads = g.gauges;
      await proxies.stopRouter(cached);
    }
    await proxies.stopRouter(plain);
    await relays.stopAll();

    // ---- Mixed: primary and replica, session consistency ----
    const primaryConnection = await mysql.createConnection({ host: '127.0.0.1', port: primaryMysql.port, user: primaryMysql.user, password: primaryMysql.password });
    mysqlConnections.push(primaryConnection);
    const replicaConnection = await mysql.createConnection({ host: '127.0.0.1', port: stack.mysql.replica.port, user: stack.mysql.replica.user, password: stack.mysql.replica.password });
    mysqlConnections.push(replicaConnection);
    const mysqlProbes = () => [mysqlProbe(primaryConnection, 'primary'), mysqlProbe(replicaConnection, 'replica')];
    const m = PORTS.mixed;
    const plainPrimary = await relays.start(m.relayPlainPrimary, rwPort);
    const plainReplica = await relays.start(m.relayPlainReplica, roPort);
    const cachedPrimary = await relays.start(m.relayCachedPrimary, rwPort);
    const cachedReplica = await relays.start(m.relayCachedReplica, roPort);
    const split = (primary: number, replica: number) => ({
      endpoint: primary, mysql: routerMysql(primaryMysql.port),
      replica: { endpoint: replica, mysql: routerMysql(stack.mysql.replica.port) },
    });
    const mixedPlain = await proxies.startRouter('cache-mixed-plain', routerConfig({ rw: split(m.relayPlainPrimary, m.relayPlainReplica) }, 'rw', [], m.plain), m.plain);
    const mixedCached = await startOrExplain(proxies, 'cache-mixed-cached',
      routerConfig({ rw: { ...split(m.relayCachedPrimary, m.relayCachedReplica), cache: cacheSpec } }, 'rw', [], m.cached), m.cached);
    if ('unavailable' in mixedCached) { cachedRouterProblem ??= mixedCached.unavailable; log(`cache: ${mixedCached.unavailable}`); }
    await replicaHealthy(mixedPlain.ports.adminPort, log);
    if (!('unavailable' in mixedCached)) await replicaHealthy(mixedCached.ports.adminPort, log);
    const written = new Array<number>(MIXED_CALLERS).fill(0);
    for (const addresses of ['shared', 'own'] as const) {
      const methods = { plainPrimary: new Map<string, number>(), plainReplica: new Map<string, number>(), cachedPrimary: new Map<string, number>(), cachedReplica: new Map<string, number>() };
      const cacheTally = new Map<string, number>();
      const plainRouting = new Map<string, number>();
      const cachedRouting = new Map<string, number>();
      const targets = [
        target('direct', rwPort, null, tally, mysqlProbes()),
        target('hms-router', mixedPlain.ports.port, mixedPlain.child.pid!, tally,
          [relayProbe(plainPrimary, 'primary', methods.plainPrimary), relayProbe(plainReplica, 'replica', methods.plainReplica),
            routingProbe(mixedPlain.ports.adminPort, plainRouting), ...mysqlProbes()]),
        'unavailable' in mixedCached ? { system: 'hms-router-cache' as const, unavailable: mixedCached.unavailable }
          : target('hms-router-cache', mixedCached.ports.port, mixedCached.child.pid!, tally,
            [relayProbe(cachedPrimary, 'primary', methods.cachedPrimary), relayProbe(cachedReplica, 'replica', methods.cachedReplica),
              cacheMetricsProbe(mixedCached.ports.adminPort, null, cacheTally), routingProbe(mixedCached.ports.adminPort, cachedRouting), ...mysqlProbes()]),
      ];
      tally.samples.clear();
      const mixedLoad = mixedWorkload(stack.warehouse, refs, tally, written, addresses);
      let w: WorkloadResult;
      try {
        w = await measure(mixedLoad.workload, targets, addresses === 'own' ? { ...measureOptions, warmupSeconds: 0 } : measureOptions);
      } finally {
        mixedLoad.close();
      }
      const stalled = (['hms-router', 'hms-router-cache'] as const).filter((system) => {
        const r = w.systems[system];
        return r !== undefined && !isUnavailable(r) && (r.extra.replicaStalledAtEnd ?? 0) > 0;
      });
      if (stalled.length > 0) log(`cache: the replica was stalled at the end of rounds of ${stalled.join(', ')}: their reads went to the primary`);
      mixed.push(withNotes(w, [
        ...(stalled.length > 0 ? [`THE REPLICA WAS STALLED (its SQL thread stopped or not moving, hms_router_replica_stalled 1) at the end of rounds of ${stalled.join(' and ')}: ` +
          'reads it did not cover went to the primary, so primary and replica figures are not those of a working split'] : []),
        `metastore calls received, hms-router: primary ${tallyText(methods.plainPrimary)}; replica ${tallyText(methods.plainReplica)}`,
        `metastore calls received, hms-router-cache: primary ${tallyText(methods.cachedPrimary)}; replica ${tallyText(methods.cachedReplica)}`,
        `read fallbacks to the primary over the rounds: hms-router ${tallyText(plainRouting)}; hms-router-cache ${tallyText(cachedRouting)}`,
        `cache counters over the rounds, hms-router-cache: ${tallyText(cacheTally)}`,
        ...[...tally.samples].map(([system, samples]) => `wrong answers (${system}): ${samples.join('; ')}`),
      ]));
    }
    if (!('unavailable' in mixedCached)) {
      const g = await cacheGauges(mixedCached.ports.adminPort);
      exported ||= g.exported;
      gauges.afterMixed = g.gauges;
      await proxies.stopRouter(mixedCached);
    }
    await proxies.stopRouter(mixedPlain);
  } finally {
    await relays.stopAll();
    for (const c of mysqlConnections) await c.end().catch(() => undefined);
    await withClient(rwPort, (c) => c.call('drop_database', args.dropDatabase(CACHE_DB))).catch(() => undefined);
  }

  const goals = evaluateCacheGoals(hotReads, mixed);
  const machine = machineInfo();
  return {
    benchmark: 'cache',
    date: new Date().toISOString(),
    command: options.command,
    commit: gitCommit(),
    hiveVersion: stack.hiveVersion,
    machine: { cpus: machine.cpus, memoryGiB: machine.memoryGiB, node: machine.node, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
    secondsPerRun: options.seconds,
    warmupSeconds: options.warmupSeconds,
    rounds: options.rounds,
    settings: [
      `direct: the rw metastore at 127.0.0.1:${rwPort}, no relay`,
      'hms-router: the router without cache (no cache key); hms-router-cache: the same config with ' +
        `cache: { enabled: true, feed: { database: ${cacheSpec.feedDatabase}, mysql: ${primaryMysql.user}@127.0.0.1:${primaryMysql.port} } } ` +
        '(maxBytes, maxLagMs, callerIndependent and the feed\'s pollIntervalMs at their defaults); pool minIdle 16, max 128',
      'each router reaches each metastore endpoint through a counting relay of its own (bench/counting-relay.ts, its own process): ' +
        'its figures count what the metastore received, health probes (getStatus) aside; the relay adds a hop to every call that reaches the metastore',
      'hot reads: no replica; mixed: the rw metastore as primary, ro (on the MariaDB replica) as replica, consistency session, maxWaitMs 200',
      `clients call without set_ugi (no identity); ${HOT_TABLES.length} hot tables of 240 partitions and ${MIXED_CALLERS} mixed tables in ${CACHE_DB}, created at the start, dropped at the end`,
      'stale: replies whose bytes after the message header differ from the metastore\'s answer taken directly before the rounds (every hot reply is compared)',
      ...(unstable.length > 0 ? [`the metastore's own answer changed between two direct calls for: ${unstable.join(', ')} (stale counts of those are not meaningful)`] : []),
      `load generator: this process (Node), the same ${machine.cpus} cores as the routers, relays, metastores and MariaDB`,
    ],
    cache: {
      active: exported,
      detail: cachedRouterProblem ?? (exported ? 'the router with cache exported hms_router_cache_* metrics'
        : 'the router with cache exported no hms_router_cache_* metrics: its cache stage did not run (not built yet?); hms-router-cache ran as a router without cache'),
      notificationLogWritten,
      gauges,
    },
    hotReads,
    mixed,
    goals,
    goalsSummary: {
      met: goals.filter((g) => g.met === true).length,
      notMet: goals.filter((g) => g.met === false).length,
      notMeasured: goals.filter((g) => g.met === null).length,
    },
    minutes: +((Date.now() - started) / 60_000).toFixed(1),
  };
}

// ---- Goals ----

function cachedResult(w: WorkloadResult): SystemResult | null {
  const r = w.systems['hms-router-cache'];
  return r === undefined || isUnavailable(r) ? null : r;
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : String(+v.toFixed(4)));

export function evaluateCacheGoals(hotReads: readonly WorkloadResult[], mixed: readonly WorkloadResult[]): CacheGoal[] {
  const goals: CacheGoal[] = [];
  const notRun = (goal: string, workload: string | null): CacheGoal => ({ goal, workload, measured: null, met: null, detail: 'hms-router-cache did not run' });
  const check = (goal: string, workload: string | null, measured: number | undefined, ok: (v: number) => boolean, detail: string): CacheGoal =>
    (measured === undefined || !Number.isFinite(measured)
      ? { goal, workload, measured: null, met: null, detail: `not measured; ${detail}` }
      : { goal, workload, measured, met: ok(measured), detail });
  const g = CACHE_GOALS;
  for (const w of hotReads) {
    const r = cachedResult(w);
    const throughputGoal = `throughput ≥ ${g.throughputRatioAtLeast}x direct`;
    const callsGoal = `metastore calls per client call ≤ ${g.metastoreCallsPerCallAtMost}`;
    const hitGoal = `hit p50 ≤ ${g.hitP50MsAtMost} ms`;
    if (r === null) {
      goals.push(notRun(throughputGoal, w.name), notRun(callsGoal, w.name));
      if (w.concurrency === 1 && !w.connectionPerCall) goals.push(notRun(hitGoal, w.name));
      continue;
    }
    const errors = r.errors > 0 ? `; ${r.errors} errors` : '';
    goals.push(check(throughputGoal, w.name, r.throughputRatioToDirect?.median, (v) => v >= g.throughputRatioAtLeast,
      `per-round ratios ${r.throughputRatioToDirect?.all.join(', ') ?? 'n/a'}; ${r.throughputPerSec.median}/s${errors}`));
    goals.push(check(callsGoal, w.name, r.extra.metastoreCallsPerCall, (v) => v <= g.metastoreCallsPerCallAtMost,
      `median over rounds; hit ratio ${fmt(r.extra.hitRatio)}`));
    // Only one caller on a kept connection measures a hit itself; with more, a call also waits for the others.
    if (w.concurrency === 1 && !w.connectionPerCall) {
      goals.push(check(hitGoal, w.name, r.p50Ms.median, (v) => v <= g.hitP50MsAtMost,
        `client-side p50 (the client's own encoding and the loopback included), median over rounds; hit ratio ${fmt(r.extra.hitRatio)}`));
    }
  }
  const all = [...hotReads, ...mixed].map(cachedResult);
  if (all.some((r) => r === null) || all.length === 0) {
    goals.push(notRun('0 stale', null));
  } else {
    const stale = all.reduce((n, r) => n + (r!.extra.stale ?? 0), 0);
    const compared = all.reduce((n, r) => n + (r!.extra.compared ?? 0), 0);
    goals.push(compared === 0 ? { goal: '0 stale', workload: null, measured: null, met: null, detail: 'no reply compared' }
      : { goal: '0 stale', workload: null, measured: stale, met: stale === 0, detail: `${stale} of ${compared} replies of hms-router-cache (hot reads and the mixed workload's hot reads) differed from direct's answer` });
  }
  for (const w of mixed) {
    const r = cachedResult(w);
    if (r === null) { goals.push(notRun('0 read-after-write violations', w.name)); continue; }
    const own = r.extra.ownReads ?? 0;
    const violations = r.extra.readAfterWriteViolations ?? 0;
    goals.push(own === 0 ? { goal: '0 read-after-write violations', workload: w.name, measured: null, met: null, detail: 'no own-table read' }
      : { goal: '0 read-after-write violations', workload: w.name, measured: violations, met: violations === 0, detail: `${violations} of ${own} own-table reads of hms-router-cache missed the caller's last write` });
  }
  return goals;
}

// ---- Alone: npm run bench:cache ----

async function main(): Promise<void> {
  const log = (line: string) => process.stderr.write(`bench:cache: ${line}\n`);
  const stack = status().running ? status() : await up(undefined, log);
  const proxies = new Proxies(log);
  const seconds = numericFlag('--seconds', DEFAULT_SECONDS);
  let results: CacheResults;
  try {
    results = await runCachePart({
      stack, proxies, log, seconds, warmupSeconds: seconds, rounds: numericFlag('--rounds', 3),
      command: `npm run bench:cache -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    });
  } finally {
    await proxies.stopAll();
  }
  const out = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'cache.json'), `${JSON.stringify(results, null, 2)}\n`);
  const suiteFile = join(out, 'suite.json');
  if (existsSync(suiteFile)) {
    const { reportFile } = writeReport(JSON.parse(readFileSync(suiteFile, 'utf8')) as SuiteResults, out, results);
    log(`wrote bench/results/cache.json and its section of ${reportFile}`);
  } else {
    log('wrote bench/results/cache.json (no suite.json beside it: REPORT.md not written)');
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`bench:cache: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}

/** The cache part's run length in the suite: --cache-seconds, else 1 s (the suite's --seconds is for its other parts). */
export function cacheSecondsFlag(): number {
  return numericFlag('--cache-seconds', DEFAULT_SECONDS);
}
