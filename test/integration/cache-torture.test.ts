/**
 * The metadata cache under torture on the real stack (issue #15, part 4): writes through the router
 * and straight to the rw metastore (bypassing it), the replica's SQL thread stopped in cycles, and
 * the change feed's MySQL connection cut twice, in `session` mode (one persistent connection per
 * worker) and `client` mode (a new connection per call, each worker on its own loopback address).
 *
 * Every object (a table, a partition, the database, the table list, a growing partition list) has
 * one writer that bumps its version, so its versions are totally ordered; every write is recorded
 * with the time its reply arrived. Each read decodes the versions it shows. Which answers came from
 * the cache is known per call: the router's debug log has one `call` line per call with the role that
 * answered (cache, replica, primary), and each worker is the only client on its address, making its
 * calls one after another, so its calls and its log lines pair up in order (checked method by method).
 *
 * What must hold, and why a user relies on it:
 *  - older than the token: a worker that wrote an object never reads an older version of it (its
 *    own write, however the read was answered): 0.
 *  - staler than maxLagMs behind the feed: a cache hit is looked up at `now`, and the feed vouches
 *    only when its last complete read began at or after now - maxLagMs (its snapshotAt is taken
 *    just before the snapshot, in ms). A write acknowledged at t (its commit before t) with
 *    t < sentAt - maxLagMs, so t <= snapshotAt - 1, is in that snapshot, and the cache holds no entry
 *    older than a change the feed has read. So a hit of a read sent at or after t + maxLagMs + 1 ms
 *    shows that write: 0. (The issue's looser bound, t + maxLagMs + pollIntervalMs + a margin, is
 *    implied.) The test and the router share one process and one clock.
 *  - the primary's answers to reads sent after a write's reply show it: 0.
 *  - replica answers are not judged by the feed: a session's token is taken at its first read and
 *    kept until it writes, so a reader that never writes may read a lagging replica seconds behind
 *    others' writes (the consistency design). Those are counted and printed, not asserted.
 *  - while the feed cannot read (its MySQL connection cut), no read sent later than maxLagMs into
 *    the cut and answered before it ends is a cache hit, the bypass counter names feed_failing /
 *    feed_lagging, and hits come back after.
 *  - a feed MySQL that goes silent in the middle of a read (no reply, connection open): the feed
 *    gives up after queryTimeoutMs, the cache answers again once the server does, and the router
 *    still stops.
 *  - after the load, every cacheable call through the router is a hit (the counter says so) and its
 *    reply is the metastore's own reply byte for byte, with the caller's seqid.
 *  - with no replica (no GTID token), a client's read right after its own write through the router
 *    shows it, on the same connection and on a new one from the same address.
 *
 * Not covered here: a feed reset (gap, rewound: unit and change-feed tests), the cache's byte bound
 * and eviction, Kerberos callers, several router processes, MySQL (not MariaDB) positions, renames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { replicaLagCycles, startReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { HmsTestClient, args, type CallResult } from '../support/hms-test-client';
import { startTestRouter, type TestRouter } from '../support/router-harness';
import { CuttingRelay } from '../support/cutting-relay';
import { StallingRelay } from '../support/stalling-relay';
import { prng } from '../support/prng';
import { addPartitionsArgs, alterTableArgs, createTableArgs, dbTableArgs, partitionNamesArgs, partitionsByNamesArgs, type TableSpec } from '../support/hms-objects';
import {
  alterPartitionArgs, databaseVersion, getTableReqArgs, getTablesArgs, partitionVersion, singleKeyPartitionName, tableVersion,
  VERSION_KEY, WriteLedger,
} from '../support/versioned-objects';
import type { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType } from '../../src/thrift/protocol';
import type { ThriftStruct } from '../../src/thrift/value-decoder';

const stack = status();
const rwPort = stack.metastores.rw.port;
const primaryPort = stack.mysql.primary.port;
const replicaPort = stack.mysql.replica.port;

const MAX_LAG_MS = 500;
const FEED_POLL_MS = 50;
/** A feed query unanswered this long fails. */
const FEED_QUERY_TIMEOUT_MS = 1000;
const RUN_MS = 9500;
/**
 * Feed interruptions, from the run's start: the relay in front of the feed's MySQL cuts every
 * connection as soon as the server sends anything (reconnects included), for 1 s each.
 */
const CUTS = [{ from: 2000, to: 3000 }, { from: 5500, to: 6500 }] as const;
/** After a cut ends, the feed is reading again within this: its retry backoff is at most 1 s. */
const RECOVERY_MS = 1500;
const ROUTER_WRITE_EVERY_MS = 300;
const DIRECT_WRITE_EVERY_MS = 200;
const DATABASE_WRITE_EVERY_MS = 1500;
const GROW_EVERY_MS = 350;
const CREATE_TABLE_EVERY_MS = 2000;

const PART_KEY = 'p';
const PART_VALUES = ['0', '1', '2'] as const;
const GROW_KEY = 'g';
const PURE_READERS = 3;
const ROUTER_WRITERS = 2;

type Mode = 'session' | 'client';
type Role = 'cache' | 'replica' | 'primary';

interface Observation {
  readonly object: string;
  readonly version: number;
  /** The reader's own last acknowledged version of the object (it is the object's writer), else null. */
  readonly ownFloor: number | null;
}

interface CallRecord {
  readonly method: string;
  readonly sentAt: number;
  readonly repliedAt: number;
  readonly observations: readonly Observation[];
  readonly isRead: boolean;
  role?: Role;
}

interface Fixture {
  readonly db: string;
  readonly location: string;
  readonly routerTables: readonly TableSpec[];
  readonly directTable: TableSpec;
  readonly growTable: TableSpec;
  readonly baseTables: readonly string[];
}

function spec(db: string, location: string, table: string, key: string): TableSpec {
  return { db, table, location: `${location}/${table}`, columns: [['id', 'bigint'], ['note', 'string']], partitionKeys: [[key, 'string']] };
}

async function createFixture(tag: string): Promise<Fixture> {
  const db = `cache_torture_${tag}_${Date.now()}`;
  const location = `${stack.warehouse}/${db}.db`;
  const routerTables = Array.from({ length: ROUTER_WRITERS }, (_, i) => spec(db, location, `rt_${i}`, PART_KEY));
  const directTable = spec(db, location, 'dt_0', PART_KEY);
  const growTable = spec(db, location, 'grow', GROW_KEY);
  const c = await HmsTestClient.connect(rwPort);
  try {
    await c.success('create_database', args.createDatabase(db, location));
    for (const t of [...routerTables, directTable]) {
      await c.success('create_table', createTableArgs(t));
      await c.success('add_partitions', addPartitionsArgs(t, PART_VALUES.map((v) => [v])));
    }
    await c.success('create_table', createTableArgs(growTable));
  } finally { c.close(); }
  return { db, location, routerTables, directTable, growTable, baseTables: [...routerTables, directTable, growTable].map((t) => t.table) };
}

async function dropDatabase(db: string): Promise<void> {
  const c = await HmsTestClient.connect(rwPort);
  try { await c.call('drop_database', args.dropDatabase(db)); } finally { c.close(); }
}

function routerConfig(mode: Mode, feedPort: number | null, cache: Record<string, unknown>, replicas = true) {
  const u = stack.routerMysqlUser;
  const primaryMysql = { host: '127.0.0.1', port: primaryPort, user: u.user, password: u.password };
  return {
    metastores: {
      rw: {
        primary: { endpoints: [`127.0.0.1:${rwPort}`], mysql: primaryMysql },
        replicas: replicas ? [{
          name: 'r1', endpoints: [`127.0.0.1:${stack.metastores.ro.port}`],
          mysql: { host: '127.0.0.1', port: replicaPort, user: u.user, password: u.password },
        }] : [],
        consistency: { mode, maxWaitMs: 300, pollIntervalMs: 200 },
        timeouts: { callMs: 10_000, retryBackoffMs: 500 },
        cache: {
          enabled: true, maxLagMs: MAX_LAG_MS,
          feed: {
            database: stack.mysql.primary.database, pollIntervalMs: FEED_POLL_MS, queryTimeoutMs: FEED_QUERY_TIMEOUT_MS,
            ...(feedPort === null ? {} : { mysql: { ...primaryMysql, port: feedPort } }),
          },
          ...cache,
        },
      },
    },
  };
}

/** A router client on its own loopback address: one connection (session mode) or one per call (client mode). */
class RouterCaller {
  private connection: HmsTestClient | null = null;
  constructor(private readonly port: number, private readonly mode: Mode, readonly address: string) {}

  async call(method: string, write: (w: BinaryWriter) => void): Promise<{ result: CallResult; sentAt: number; repliedAt: number }> {
    if (this.connection === null) this.connection = await HmsTestClient.connect(this.port, 'buffered', '127.0.0.1', this.address);
    const c = this.connection;
    try {
      const sentAt = Date.now();
      const result = await c.call(method, write, 15_000);
      const repliedAt = Date.now();
      if (result.type !== MessageType.REPLY) throw new Error(`${method}: TApplicationException ${String(result.result[1])}`);
      return { result, sentAt, repliedAt };
    } finally {
      if (this.mode === 'client') { c.close(); this.connection = null; }
    }
  }

  close(): void { this.connection?.close(); this.connection = null; }
}

/** The success value of a reply, or throws on a declared exception. */
function success(method: string, r: CallResult): unknown {
  for (const [id, value] of Object.entries(r.result)) if (id !== '0') throw new Error(`${method}: exception in field ${id}: ${JSON.stringify(value)}`);
  return r.result[0];
}

interface Run {
  readonly ledger: WriteLedger;
  readonly workers: Array<{ address: string; calls: CallRecord[] }>;
  /** Wrong answers (not a version question: a missing table, an unexpected partition): must be none. */
  readonly wrong: string[];
  readonly errors: string[];
  directWrites: number;
  routerWrites: number;
}

const tableObject = (t: string) => `table:${t}`;
const partObject = (t: string, name: string) => `part:${t}/${name}`;
const DB_OBJECT = 'database';
const TABLES_OBJECT = 'tables';
const GROW_NAMES_OBJECT = 'names:grow';

/** Writes straight to the rw metastore: dt_0 (table and partitions) and the database; the grow table and new tables. */
async function directWriters(f: Fixture, run: Run, running: () => boolean): Promise<void> {
  const record = (object: string, version: number) => { run.ledger.record(object, version, Date.now()); run.directWrites += 1; };
  const versions = new Map<string, number>();
  const bump = (object: string) => { const v = (versions.get(object) ?? 0) + 1; versions.set(object, v); return v; };
  const alters = (async () => {
    const c = await HmsTestClient.connect(rwPort);
    try {
      let step = 0;
      let nextDatabaseWrite = Date.now() + DATABASE_WRITE_EVERY_MS / 2;
      while (running()) {
        step += 1;
        if (Date.now() >= nextDatabaseWrite) {
          nextDatabaseWrite += DATABASE_WRITE_EVERY_MS;
          const v = bump(DB_OBJECT);
          await c.success('alter_database', args.alterDatabase(f.db, f.location, { [VERSION_KEY]: String(v) }));
          record(DB_OBJECT, v);
        } else if (step % 3 === 0) {
          const object = tableObject(f.directTable.table);
          const v = bump(object);
          await c.success('alter_table', alterTableArgs({ ...f.directTable, parameters: { [VERSION_KEY]: String(v) } }));
          record(object, v);
        } else {
          const value = PART_VALUES[step % PART_VALUES.length]!;
          const object = partObject(f.directTable.table, `${PART_KEY}=${value}`);
          const v = bump(object);
          await c.success('alter_partition', alterPartitionArgs(f.directTable, [value], { [VERSION_KEY]: String(v) }));
          record(object, v);
        }
        await sleep(DIRECT_WRITE_EVERY_MS);
      }
    } finally { c.close(); }
  })();
  const growth = (async () => {
    const c = await HmsTestClient.connect(rwPort);
    try {
      let partitions = 0;
      let tables = 0;
      let nextCreate = Date.now() + CREATE_TABLE_EVERY_MS / 2;
      while (running()) {
        if (Date.now() >= nextCreate) {
          nextCreate += CREATE_TABLE_EVERY_MS;
          await c.success('create_table', createTableArgs(spec(f.db, f.location, `extra_${tables}`, PART_KEY)));
          tables += 1;
          record(TABLES_OBJECT, tables);
        } else {
          await c.success('add_partitions', addPartitionsArgs(f.growTable, [[String(partitions)]]));
          const ackAt = Date.now();
          run.ledger.record(partObject(f.growTable.table, `${GROW_KEY}=${partitions}`), 1, ackAt);
          partitions += 1;
          record(GROW_NAMES_OBJECT, partitions);
        }
        await sleep(GROW_EVERY_MS);
      }
    } finally { c.close(); }
  })();
  await Promise.all([alters, growth]);
}

/** A worker's reads (and, for a writer, its writes) through the router. */
async function routerWorker(f: Fixture, run: Run, caller: RouterCaller, seed: number, owned: TableSpec | null, running: () => boolean): Promise<void> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const calls: CallRecord[] = [];
  run.workers.push({ address: caller.address, calls });
  /** This worker's last acknowledged version of each object it writes. */
  const own = new Map<string, number>();
  const floorOf = (object: string) => (own.has(object) ? own.get(object)! : null);
  // Mixed case on some reads: the metastore ignores case, and the cache keys must follow it.
  const casing = (name: string) => (rnd() < 0.2 ? name.toUpperCase() : name);
  const tables = [...f.routerTables, f.directTable, f.growTable];
  let step = 0;
  let nextWrite = Date.now() + rnd() * ROUTER_WRITE_EVERY_MS;

  const write = async () => {
    step += 1;
    const t = owned!;
    const object = step % 3 === 1 ? tableObject(t.table) : partObject(t.table, `${PART_KEY}=${PART_VALUES[step % PART_VALUES.length]}`);
    const v = (own.get(object) ?? 0) + 1;
    const r = object.startsWith('table:')
      ? await caller.call('alter_table', alterTableArgs({ ...t, parameters: { [VERSION_KEY]: String(v) } }))
      : await caller.call('alter_partition', alterPartitionArgs(t, [object.slice(object.lastIndexOf('=') + 1)], { [VERSION_KEY]: String(v) }));
    success('write', r.result);
    run.ledger.record(object, v, r.repliedAt);
    own.set(object, v);
    run.routerWrites += 1;
    calls.push({ method: object.startsWith('table:') ? 'alter_table' : 'alter_partition', sentAt: r.sentAt, repliedAt: r.repliedAt, observations: [], isRead: false });
  };

  const read = async () => {
    // Writers read their own table half the time: the token rule needs reads of own objects.
    const t = owned !== null && rnd() < 0.5 ? owned : pick(tables);
    const choice = rnd();
    const observations: Observation[] = [];
    const see = (object: string, version: number) => observations.push({ object, version, ownFloor: floorOf(object) });
    let method: string;
    let r: Awaited<ReturnType<RouterCaller['call']>>;
    if (choice < 0.25) {
      method = 'get_table';
      r = await caller.call(method, dbTableArgs(f.db, casing(t.table)));
      const table = success(method, r.result) as ThriftStruct;
      if (t !== f.growTable) see(tableObject(t.table), tableVersion(table));
    } else if (choice < 0.35) {
      method = 'get_table_req';
      r = await caller.call(method, getTableReqArgs(f.db, casing(t.table)));
      const table = (success(method, r.result) as ThriftStruct)[1] as ThriftStruct;
      if (t !== f.growTable) see(tableObject(t.table), tableVersion(table));
    } else if (choice < 0.6) {
      method = 'get_partitions_by_names';
      let names: string[];
      if (t === f.growTable) {
        // Around the partitions added so far: some do not exist yet (cached as "no such partition").
        const known = run.ledger.ackedBy(GROW_NAMES_OBJECT, Date.now());
        const from = Math.max(0, known - 2 + Math.floor(rnd() * 3));
        names = [from, from + 1, from + 2].map((i) => `${GROW_KEY}=${i}`);
      } else {
        // Overlapping lists, in any order, sometimes with a name no partition has.
        names = PART_VALUES.filter(() => rnd() < 0.6).map((v) => `${PART_KEY}=${v}`);
        if (names.length === 0) names.push(`${PART_KEY}=${pick(PART_VALUES)}`);
        if (rnd() < 0.2) names.push(`${PART_KEY}=none`);
        if (rnd() < 0.5) names.reverse();
      }
      r = await caller.call(method, partitionsByNamesArgs(f.db, casing(t.table), names));
      const partitions = success(method, r.result) as ThriftStruct[];
      const key = t === f.growTable ? GROW_KEY : PART_KEY;
      const got = new Map(partitions.map((p) => [singleKeyPartitionName(p, key), p]));
      for (const name of got.keys()) if (!names.includes(name)) run.wrong.push(`${method}(${t.table}, ${names.join(',')}): unasked ${name}`);
      if (got.size !== partitions.length) run.wrong.push(`${method}(${t.table}): a partition twice`);
      for (const name of names) {
        if (t === f.growTable) see(partObject(t.table, name), got.has(name) ? 1 : 0);
        else if (name.endsWith('=none')) { if (got.has(name)) run.wrong.push(`${method}: ${name} exists`); }
        else if (!got.has(name)) run.wrong.push(`${method}(${t.table}): ${name} missing`);
        else see(partObject(t.table, name), partitionVersion(got.get(name)));
      }
    } else if (choice < 0.75) {
      method = 'get_partition_names';
      r = await caller.call(method, partitionNamesArgs(f.db, casing(t.table)));
      const names = success(method, r.result) as string[];
      if (t === f.growTable) {
        // Partitions are added in order, one per write: an answer lists a prefix g=0..n-1 (in name order).
        const numbers = names.map((n) => Number(n.slice(GROW_KEY.length + 1))).sort((a, b) => a - b);
        const prefix = numbers.every((n, i) => n === i);
        if (!prefix) run.wrong.push(`${method}(grow): ${names.join(',')}`);
        see(GROW_NAMES_OBJECT, names.length);
      } else if (names.join(',') !== PART_VALUES.map((v) => `${PART_KEY}=${v}`).join(',')) {
        run.wrong.push(`${method}(${t.table}): ${names.join(',')}`);
      }
    } else if (choice < 0.87) {
      method = 'get_database';
      r = await caller.call(method, args.name(f.db));
      see(DB_OBJECT, databaseVersion(success(method, r.result) as ThriftStruct));
    } else if (choice < 0.96) {
      method = 'get_tables';
      r = await caller.call(method, getTablesArgs(f.db, '*'));
      const names = success(method, r.result) as string[];
      for (const base of f.baseTables) if (!names.includes(base)) run.wrong.push(`${method}: ${base} missing`);
      const extras = names.filter((n) => n.startsWith('extra_')).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
      if (!extras.every((n, i) => n === `extra_${i}`)) run.wrong.push(`${method}: extras ${extras.join(',')}`);
      see(TABLES_OBJECT, extras.length);
    } else {
      method = 'get_all_databases';
      r = await caller.call(method, () => {});
      if (!(success(method, r.result) as string[]).includes(f.db)) run.wrong.push(`${method}: ${f.db} missing`);
    }
    calls.push({ method, sentAt: r.sentAt, repliedAt: r.repliedAt, observations, isRead: true });
  };

  try {
    while (running()) {
      try {
        if (owned !== null && Date.now() >= nextWrite) {
          nextWrite += ROUTER_WRITE_EVERY_MS;
          await write();
        } else {
          await read();
        }
      } catch (err) {
        run.errors.push(`${caller.address}: ${(err as Error).message}`);
        // The call may or may not have reached the router: this worker's log lines no longer pair up.
        return;
      }
    }
  } finally { caller.close(); }
}

/**
 * The role that answered each call, from the router's `call` log lines: each worker's address
 * holds only its own sessions, whose lines, in session order, are its calls in order.
 */
function attributeRoles(router: TestRouter, run: Run): void {
  const sessionsByAddress = new Map<string, number[]>();
  const linesBySession = new Map<number, Array<{ method: string; role: Role }>>();
  for (const line of router.logs) {
    if (line.msg === 'client connected') {
      const address = String(line.client).replace(/:\d+$/, '');
      const list = sessionsByAddress.get(address) ?? [];
      list.push(line.session as number);
      sessionsByAddress.set(address, list);
    } else if (line.msg === 'call') {
      const list = linesBySession.get(line.session as number) ?? [];
      list.push({ method: line.method as string, role: line.role as Role });
      linesBySession.set(line.session as number, list);
    }
  }
  for (const w of run.workers) {
    const lines = (sessionsByAddress.get(w.address) ?? []).sort((a, b) => a - b).flatMap((s) => linesBySession.get(s) ?? []);
    expect(lines.map((l) => l.method), `log lines of ${w.address}`).toEqual(w.calls.map((c) => c.method));
    w.calls.forEach((c, i) => { c.role = lines[i]!.role; });
  }
}

interface Verdict {
  reads: number;
  observations: number;
  byRole: Record<Role, number>;
  /** Reads of own objects (the token rule), and those older than the reader's own write. */
  ownChecked: number;
  ownCacheHits: number;
  olderThanToken: string[];
  /** Cache hits of objects with a write acknowledged at least maxLagMs + 1 before the read was sent. */
  cacheChecked: number;
  staleCache: string[];
  stalePrimary: string[];
  /** Replica answers older than a write acknowledged maxLagMs + pollIntervalMs + 50 ms before: the consistency design allows them. */
  staleReplica: number;
  /** Hits among reads sent at least maxLagMs into a feed interruption and answered before it ended. */
  blindReads: number;
  blindHits: string[];
}

function judge(run: Run, runStart: number): Verdict {
  const v: Verdict = {
    reads: 0, observations: 0, byRole: { cache: 0, replica: 0, primary: 0 }, ownChecked: 0, ownCacheHits: 0, olderThanToken: [],
    cacheChecked: 0, staleCache: [], stalePrimary: [], staleReplica: 0, blindReads: 0, blindHits: [],
  };
  const windows = CUTS.map((w) => ({ from: runStart + w.from, to: runStart + w.to }));
  for (const w of run.workers) {
    for (const c of w.calls) {
      if (!c.isRead) continue;
      v.reads += 1;
      const role = c.role!;
      v.byRole[role] += 1;
      if (windows.some((b) => c.sentAt >= b.from + MAX_LAG_MS + 1 && c.repliedAt < b.to)) {
        v.blindReads += 1;
        if (role === 'cache') v.blindHits.push(`${w.address} ${c.method} sent ${c.sentAt - runStart} ms`);
      }
      for (const o of c.observations) {
        v.observations += 1;
        const what = `${w.address} ${c.method} ${o.object}: v${o.version}, sent ${c.sentAt - runStart} ms, role ${role}`;
        if (o.ownFloor !== null) {
          v.ownChecked += 1;
          if (role === 'cache') v.ownCacheHits += 1;
          if (o.version < o.ownFloor) v.olderThanToken.push(`${what}: own write v${o.ownFloor}`);
        }
        if (role === 'cache') {
          const due = run.ledger.ackedBy(o.object, c.sentAt - MAX_LAG_MS - 1);
          if (due > 0) v.cacheChecked += 1;
          if (o.version < due) v.staleCache.push(`${what}: v${due} acknowledged > ${MAX_LAG_MS} ms before`);
        } else if (role === 'primary') {
          const due = run.ledger.ackedBy(o.object, c.sentAt - 1);
          if (o.version < due) v.stalePrimary.push(`${what}: v${due} acknowledged before`);
        } else if (o.version < run.ledger.ackedBy(o.object, c.sentAt - MAX_LAG_MS - FEED_POLL_MS - 50)) {
          v.staleReplica += 1;
        }
      }
    }
  }
  return v;
}

/** The header's seqid (4-byte version, 4-byte name length, name, 4-byte seqid) zeroed. */
function withoutSeqid(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = 8 + copy.readInt32BE(4);
  copy.fill(0, at, at + 4);
  return copy;
}

function seqidOf(bytes: Buffer): number {
  return bytes.readInt32BE(8 + bytes.readInt32BE(4));
}

/** Every cacheable call the workload makes, with the arguments the byte check sends. */
function cacheableCalls(f: Fixture): Array<[string, (w: BinaryWriter) => void]> {
  const calls: Array<[string, (w: BinaryWriter) => void]> = [];
  for (const t of [...f.routerTables, f.directTable, f.growTable]) {
    calls.push(['get_table', dbTableArgs(f.db, t.table)]);
    calls.push(['get_table', dbTableArgs(f.db, t.table.toUpperCase())]);
    calls.push(['get_table_req', getTableReqArgs(f.db, t.table)]);
    calls.push(['get_partition_names', partitionNamesArgs(f.db, t.table)]);
  }
  const [rt] = f.routerTables;
  const p = (v: string) => `${PART_KEY}=${v}`;
  // Overlapping lists in several orders, a name with no partition, one name twice: assembled from per-partition entries.
  for (const names of [[p('0'), p('1')], [p('2'), p('1')], [p('2'), p('0'), p('1')], [p('1'), p('none')], [p('0'), p('0')]]) {
    calls.push(['get_partitions_by_names', partitionsByNamesArgs(f.db, rt!.table, names)]);
    calls.push(['get_partitions_by_names', partitionsByNamesArgs(f.db, f.directTable.table, names)]);
  }
  calls.push(['get_partitions_by_names', partitionsByNamesArgs(f.db, f.growTable.table, ['g=1', 'g=0', 'g=100000'])]);
  calls.push(['get_database', args.name(f.db)]);
  calls.push(['get_tables', getTablesArgs(f.db, '*')]);
  calls.push(['get_all_databases', () => {}]);
  return calls;
}

/**
 * After the load: each cacheable call through the router twice (a fill, then a hit) and once to the
 * metastore itself. Returns the differing calls; every second call must be a hit. Changes from
 * outside the test (another test on the stack) can drop an entry between the two passes: then the
 * feed reported events meanwhile and the check is made again.
 */
async function compareBytes(router: TestRouter, f: Fixture, address: string): Promise<{ calls: number; hits: number; differing: string[]; attempts: number }> {
  const calls = cacheableCalls(f);
  for (let attempt = 1; ; attempt++) {
    const via = await HmsTestClient.connect(router.port, 'buffered', '127.0.0.1', address);
    const direct = await HmsTestClient.connect(rwPort);
    try {
      for (const [method, write] of calls) await via.raw(method, write);
      const hitsBefore = await router.metric('hms_router_cache_hits_total');
      const eventsBefore = await router.metric('hms_router_cache_feed_events_total');
      const differing: string[] = [];
      for (const [i, [method, write]] of calls.entries()) {
        const mine = await via.raw(method, write);
        const theirs = await direct.raw(method, write);
        // The router's connection made `calls.length` calls before: the (calls.length + i + 1)th is this.
        if (seqidOf(mine.bytes) !== calls.length + i + 1) differing.push(`${method} #${i}: seqid ${seqidOf(mine.bytes)}`);
        if (!withoutSeqid(mine.bytes).equals(withoutSeqid(theirs.bytes))) differing.push(`${method} #${i}: ${mine.bytes.length} vs ${theirs.bytes.length} bytes`);
      }
      const hits = await router.metric('hms_router_cache_hits_total') - hitsBefore;
      const foreignEvents = await router.metric('hms_router_cache_feed_events_total') - eventsBefore;
      if ((hits === calls.length && differing.length === 0) || foreignEvents === 0 || attempt === 3) {
        return { calls: calls.length, hits, differing, attempts: attempt };
      }
    } finally { via.close(); direct.close(); }
    await sleep(MAX_LAG_MS * 2);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function bypasses(router: TestRouter): Promise<Record<string, number>> {
  const reasons = ['feed_failing', 'feed_lagging', 'feed_behind', 'token_ahead_of_feed', 'own_write_not_in_feed', 'token_unavailable'];
  return Object.fromEntries(await Promise.all(reasons.map(async (reason) => [reason, await router.metric('hms_router_cache_bypasses_total', { reason })])));
}

const fixtures: string[] = [];

/** Closes the router, or says it did not within 10 s (rather than holding the hook for its whole timeout). */
async function closeRouter(router: TestRouter | undefined): Promise<boolean> {
  if (router === undefined) return true;
  return Promise.race([router.close().then(() => true), sleep(10_000).then(() => false)]);
}

afterAll(async () => {
  await startReplicaSqlThread(replicaPort);
  for (const db of fixtures) await dropDatabase(db);
});

describe.each([
  { mode: 'session' as const, base: 60 },
  { mode: 'client' as const, base: 70 },
])('cache torture, $mode mode: writes through and around the router, replica lag cycles, feed cuts', ({ mode, base }) => {
  let f: Fixture;
  let relay: CuttingRelay;
  let router: TestRouter;

  beforeAll(async () => {
    f = await createFixture(mode);
    fixtures.push(f.db);
    await waitForReplicaToCatchUp(primaryPort, replicaPort);
    relay = await CuttingRelay.start(primaryPort);
    router = await startTestRouter(routerConfig(mode, relay.port, {}));
  });

  afterAll(async () => {
    const closed = await closeRouter(router);
    await relay?.close();
    expect(closed, 'router.close() finished').toBe(true);
  });

  it('0 answers older than the token, 0 cache answers staler than maxLagMs behind the feed, cached replies byte-equal', async () => {
    const run: Run = { ledger: new WriteLedger(), workers: [], wrong: [], errors: [], directWrites: 0, routerWrites: 0 };
    const metricsBefore = {
      hits: await router.metric('hms_router_cache_hits_total'), misses: await router.metric('hms_router_cache_misses_total'),
      stored: await router.metric('hms_router_cache_fills_total', { outcome: 'stored' }), bypasses: await bypasses(router),
      lagging: await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_lagging' }),
    };
    const runStart = Date.now();
    const deadline = runStart + RUN_MS;
    const running = () => Date.now() < deadline;
    const lag = replicaLagCycles(replicaPort, 1500, 1000);
    const at = (ms: number) => sleep(Math.max(0, runStart + ms - Date.now()));
    const interruptions = (async () => {
      const seen: Array<{ feed_failing: number; feed_lagging: number; hitsAfter: number }> = [];
      for (const window of CUTS) {
        await at(window.from);
        const before = await bypasses(router);
        relay.mode = 'cut-replies';
        await at(window.to);
        const during = await bypasses(router);
        relay.mode = 'pass';
        await at(window.to + RECOVERY_MS);
        const hitsRecovered = await router.metric('hms_router_cache_hits_total');
        await at(window.to + RECOVERY_MS + 800);
        const hitsLater = await router.metric('hms_router_cache_hits_total');
        seen.push({
          feed_failing: during.feed_failing! - before.feed_failing!, feed_lagging: during.feed_lagging! - before.feed_lagging!,
          hitsAfter: hitsLater - hitsRecovered,
        });
      }
      return seen;
    })();
    const callers = Array.from({ length: ROUTER_WRITERS + PURE_READERS }, (_, i) => new RouterCaller(router.port, mode, `127.0.0.${base + i}`));
    let seen: Awaited<typeof interruptions>;
    try {
      [, , seen] = await Promise.all([
        directWriters(f, run, running),
        Promise.all(callers.map((c, i) => routerWorker(f, run, c, 1000 * base + i, i < ROUTER_WRITERS ? f.routerTables[i]! : null, running))),
        interruptions,
      ]);
    } finally {
      relay.mode = 'pass';
      await lag.stop();
    }
    const hits = await router.metric('hms_router_cache_hits_total') - metricsBefore.hits;
    const misses = await router.metric('hms_router_cache_misses_total') - metricsBefore.misses;
    const stored = await router.metric('hms_router_cache_fills_total', { outcome: 'stored' }) - metricsBefore.stored;
    const bypassesAfter = await bypasses(router);
    const bypassDeltas = Object.fromEntries(Object.entries(bypassesAfter).map(([k, n]) => [k, n - metricsBefore.bypasses[k]!]));
    const lagFallbacks = await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_lagging' }) - metricsBefore.lagging;

    expect(run.errors).toEqual([]);
    attributeRoles(router, run);
    const v = judge(run, runStart);

    await waitForReplicaToCatchUp(primaryPort, replicaPort);
    await sleep(MAX_LAG_MS * 2);
    const bytes = await compareBytes(router, f, `127.0.0.${base + 9}`);

    const summary = {
      mode, writes: { router: run.routerWrites, direct: run.directWrites }, reads: v.reads, observations: v.observations, byRole: v.byRole,
      hits, misses, fillsStored: stored, ownChecked: v.ownChecked, ownCacheHits: v.ownCacheHits, olderThanToken: v.olderThanToken.length,
      cacheChecked: v.cacheChecked, staleCache: v.staleCache.length, stalePrimary: v.stalePrimary.length, staleReplicaAllowed: v.staleReplica,
      blindReads: v.blindReads, blindHits: v.blindHits.length, interruptions: seen, bypasses: bypassDeltas, replicaLaggingFallbacks: lagFallbacks,
      bytes: { calls: bytes.calls, hits: bytes.hits, differing: bytes.differing.length, attempts: bytes.attempts },
    };
    console.log(`cache torture ${mode}: ${JSON.stringify(summary)}`);

    // Every answer was a right answer of some version, and the log accounts for every hit.
    expect(run.wrong).toEqual([]);
    expect(v.byRole.cache).toBe(hits);
    // The load was real: both kinds of writers, hundreds of reads, the cache answering a fair share.
    expect(run.routerWrites).toBeGreaterThan(40);
    expect(run.directWrites).toBeGreaterThan(40);
    expect(v.reads).toBeGreaterThan(1000);
    expect(hits).toBeGreaterThan(v.reads / 10);
    expect(stored).toBeGreaterThan(100);
    // The replica really lagged: writers' reads waited it out and fell back to the primary; it still served reads.
    expect(lagFallbacks).toBeGreaterThan(0);
    expect(v.byRole.replica).toBeGreaterThan(0);

    // Never older than the caller's own writes, however answered (cache hits among them).
    expect(v.ownChecked).toBeGreaterThan(100);
    expect(v.olderThanToken).toEqual([]);
    // Cache hits never more than maxLagMs behind a write, through the router or around it.
    expect(v.cacheChecked).toBeGreaterThan(200);
    expect(v.staleCache).toEqual([]);
    expect(v.stalePrimary).toEqual([]);

    // While the feed cannot read: no hits, the reason counted; hits again once it reads.
    expect(v.blindReads).toBeGreaterThan(50);
    expect(v.blindHits).toEqual([]);
    for (const cut of seen) {
      expect(cut.feed_failing + cut.feed_lagging).toBeGreaterThan(0);
      expect(cut.hitsAfter).toBeGreaterThan(0);
    }

    // Quiet again: every cacheable call is a hit and the metastore's reply byte for byte.
    expect(bytes.differing).toEqual([]);
    expect(bytes.hits).toBe(bytes.calls);
  });
});

describe('no read/write split (no replica, so no GTID token)', () => {
  // The cache alone keeps a client's own writes: its reads skip the cache until the feed has read past
  // the write. The client is its address and user, as client-mode tokens know it, on any connection.
  let f: Fixture;
  let router: TestRouter;
  beforeAll(async () => {
    f = await createFixture('nosplit');
    fixtures.push(f.db);
    // A slow feed (one read every 2 s): a stale entry would answer the read right after the write.
    router = await startTestRouter(routerConfig('session', null, { maxLagMs: 5000, feed: {
      database: stack.mysql.primary.database, pollIntervalMs: 2000, queryTimeoutMs: FEED_QUERY_TIMEOUT_MS } }, false));
  });
  afterAll(async () => { expect(await closeRouter(router), 'router.close() finished').toBe(true); });

  it.each([
    { connections: 'one persistent connection', persistent: true, address: '127.0.0.80', table: 0 },
    { connections: 'a new connection per call', persistent: false, address: '127.0.0.81', table: 1 },
  ])('a client that writes a table reads its write back at once ($connections)', async ({ persistent, address, table }) => {
    const caller = new RouterCaller(router.port, persistent ? 'session' : 'client', address);
    const t = f.routerTables[table]!;
    const stale: string[] = [];
    try {
      for (let version = 1; version <= 2; version++) {
        // A cached answer of the version before first (read until one is a hit).
        for (let i = 0; ; i++) {
          const hits = await router.metric('hms_router_cache_hits_total');
          await caller.call('get_table', dbTableArgs(f.db, t.table));
          if (await router.metric('hms_router_cache_hits_total') > hits) break;
          if (i === 100) throw new Error('no cache hit for get_table in 5 s');
          await sleep(50);
        }
        success('alter_table', (await caller.call('alter_table', alterTableArgs({ ...t, parameters: { [VERSION_KEY]: String(version) } }))).result);
        const seen = tableVersion(success('get_table', (await caller.call('get_table', dbTableArgs(f.db, t.table))).result) as ThriftStruct);
        if (seen !== version) stale.push(`wrote v${version}, read v${seen}`);
      }
    } finally { caller.close(); }
    expect(stale).toEqual([]);
  });
});

describe('the feed\'s MySQL goes silent in the middle of a read (no reply, the connection open)', () => {
  it('the feed gives up after queryTimeoutMs, the cache answers again once MySQL does, and the router stops', async () => {
    const f = await createFixture('silent');
    fixtures.push(f.db);
    const relay = await StallingRelay.start(primaryPort);
    const router = await startTestRouter(routerConfig('session', relay.port, { feed: {
      database: stack.mysql.primary.database, pollIntervalMs: FEED_POLL_MS, queryTimeoutMs: 500, mysql: {
        host: '127.0.0.1', port: relay.port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password } } }, false));
    let closed = false;
    try {
      const c = await HmsTestClient.connect(router.port);
      const getTable = async () => {
        const hits = await router.metric('hms_router_cache_hits_total');
        await c.success('get_table', dbTableArgs(f.db, f.directTable.table));
        return await router.metric('hms_router_cache_hits_total') > hits;
      };
      await getTable();
      expect(await getTable()).toBe(true);
      // Silent from the statement inside the feed's snapshot transaction (MariaDB: its binlog position).
      relay.silenceFrom('binlog_snapshot');
      for (let i = 0; relay.mode === 'pass'; i++) {
        if (i === 100) throw new Error('the feed sent no snapshot read through the relay');
        await sleep(10);
      }
      await sleep(1000);
      expect(await getTable()).toBe(false);
      relay.mode = 'pass';
      // The stalled read fails 500 ms after it was sent; the next poll (after a backoff of 100 ms) succeeds.
      let answered = false;
      for (const until = Date.now() + 5000; !answered && Date.now() < until;) {
        answered = await getTable();
        if (!answered) await sleep(100);
      }
      c.close();
      const feedErrors = await router.metric('hms_router_cache_feed_errors_total');
      expect.soft(answered, `no cache hit within 5 s of the silence's end; failed feed reads counted: ${feedErrors}, bypasses ${JSON.stringify(await bypasses(router))}`).toBe(true);
    } finally {
      // stop() awaits the feed's poll in flight: a poll that never ends would hold the router's shutdown.
      closed = await closeRouter(router);
      await relay.close();
    }
    expect(closed, 'router.close() finished within 10 s').toBe(true);
  });
});
