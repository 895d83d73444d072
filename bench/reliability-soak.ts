/**
 * The soak (issue #7, part 3): mixed reads and writes through one router process for many minutes
 * while the replica side fails and the routing map changes under it.
 *
 * The router: rw with its replica r1 (ro metastore on the MariaDB replica) in `client` consistency
 * mode, and fed, federated by database name. 16 clients, each from its own loopback address (a
 * client, to `client` mode) and owning its objects: a database on rw or fed, tables, a partitioned
 * table, an extra database it creates and drops. Some open a new connection per call (as Presto
 * does), the others keep one. Each keeps a model of its own acknowledged writes and checks every
 * read against it: a read that does not show the client's last write is stale. Every reply is
 * checked (decodes, seqid, method name): one that does not is garbled.
 *
 * Meanwhile: every `faultEvery` seconds, alternately, the ro metastore or the replica's MariaDB is
 * killed (SIGKILL) and started again 15 s later (the stack's own `up`; replication checked to run
 * and catch up); every 20 s the routing map is rewritten and reloaded (POST /routing/reload with
 * the admin token, or SIGHUP), alternating two valid maps that place the soak's databases alike,
 * and once a bad map, which must be refused while the old one keeps serving.
 *
 * Writes go to primaries, which are never killed, and reads fall back to the primary: no call
 * should fail. Every error is listed with what was going on. The stack is restored at the end
 * (every part running, replication on and caught up), also on failure or Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { status, up, StackStatus } from '../stack/stack';
import { REPO_ROOT, stackLayout } from '../stack/layout';
import { runAsRoot } from '../stack/mariadb';
import { waitForReplicaToCatchUp } from '../stack/replication';
import { args as callArgs, CallResult, HmsTestClient } from '../test/support/hms-test-client';
import { addPartitionsArgs, alterTableArgs, createTableArgs, dbTableArgs, partitionNamesArgs, TableSpec } from '../test/support/hms-objects';
import { BinaryWriter } from '../src/thrift/binary-writer';
import { TType } from '../src/thrift/protocol';
import { CheckedClient, GarbledReply, replyError } from './checked-client';
import { Rng } from './fuzz-inputs';
import { loadAverage, machineInfo, percentile, rssBytes, scrapeMetrics, startRouterProcess, stopRouterProcess, sumSeries } from './support';

const ROUTER_PORT = 19964;
const ADMIN_PORT = 19965;
const CLIENTS = 16;
const RW_CLIENTS = 10;
const DOWN_MS = 15_000;
const RELOAD_EVERY_MS = 20_000;
const CONFIG_NAME = 'reliability-soak';
const CONFIG_FILE = join(REPO_ROOT, '.work', 'bench', `${CONFIG_NAME}.yaml`);
const MAX_LISTED = 50;

export interface SoakOptions {
  readonly minutes: number;
  readonly seed: number;
  /** Seconds between the starts of two faults (alternating ro metastore / replica MariaDB). */
  readonly faultEvery?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ the router and its maps

type MapName = 'A' | 'B' | 'bad';

/** Two valid maps placing soak_fed_* (and their _x companions) on fed alike, and a bad one. */
const MAPS: Record<MapName, string[]> = {
  A: ['routing:', '  routes:', '    - { glob: "soak_fed_*", metastore: fed }', '    - { glob: "fed_*", metastore: fed }'],
  B: [
    'routing:',
    '  routes:',
    '    - { regex: "soak_fed_[0-9]+(_x)?", metastore: fed }',
    '    - { database: soak_reserved, metastore: fed }',
    '    - { glob: "fed_*", metastore: fed }',
    '  blocked: [{ database: "soak_blocked_*", reason: reload drill }]',
    '  flow: { defaultClass: { name: soak, priority: high } }',
  ],
  bad: ['routing:', '  routes:', '    - { glob: "soak_fed_*", metastore: nowhere }', '    - { regex: "(", metastore: fed }'],
};

function configLines(stack: StackStatus, token: string, map: MapName): string[] {
  const u = stack.routerMysqlUser;
  return [
    `server: { host: 127.0.0.1, port: ${ROUTER_PORT} }`,
    `admin: { port: ${ADMIN_PORT}, token: ${token} }`,
    'log: { level: warn }',
    'metastores:',
    '  rw:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.rw.port}"], mysql: { port: ${stack.mysql.primary.port}, user: ${u.user}, password: ${u.password} } }`,
    `    replicas: [{ name: r1, endpoints: ["127.0.0.1:${stack.metastores.ro.port}"], mysql: { port: ${stack.mysql.replica.port}, user: ${u.user}, password: ${u.password} } }]`,
    '    consistency: { mode: client, maxWaitMs: 200 }',
    '    pool: { minIdle: 4, max: 64 }',
    '    timeouts: { callMs: 30000 }',
    '    health: { intervalMs: 2000 }',
    '  fed:',
    `    primary: { endpoints: ["127.0.0.1:${stack.metastores.fed.port}"] }`,
    'defaultMetastore: rw',
    ...MAPS[map],
  ];
}

// ------------------------------------------------------------------ what happens, when

interface Timeline {
  started: number;
  /** What the fault injector is doing now, e.g. 'ro-metastore down'. */
  fault: string | null;
  lastReloadAt: number;
  /** Pids the injector started (a restart it made is not someone else's). */
  readonly ours: Set<number>;
}

const at = (t: Timeline) => +((Date.now() - t.started) / 1000).toFixed(1);

interface SoakError {
  readonly t: number;
  readonly client: number;
  readonly method: string;
  readonly kind: 'garbled' | 'transport' | 'application_exception' | 'declared_exception' | 'wrong_answer';
  readonly message: string;
  readonly fault: string | null;
  readonly msSinceReload: number;
}

interface Stale { readonly t: number; readonly client: number; readonly method: string; readonly expected: string; readonly got: string; readonly fault: string | null }

// ------------------------------------------------------------------ clients

const READS = ['get_database', 'get_table', 'get_all_databases', 'get_partition_names'] as const;
const WRITES = ['alter_database', 'create_table', 'alter_table', 'drop_table', 'add_partition', 'drop_partition', 'toggle_extra_db'] as const;
type Op = typeof READS[number] | typeof WRITES[number];
const WEIGHTS: Array<[Op, number]> = [
  ['get_database', 25], ['get_table', 20], ['get_all_databases', 10], ['get_partition_names', 20],
  ['alter_database', 7], ['create_table', 4], ['alter_table', 5], ['drop_table', 2], ['add_partition', 4], ['drop_partition', 2], ['toggle_extra_db', 2],
];

interface Tally {
  calls: Record<string, number>;
  latencies: Record<string, number[]>;
  /** Latencies by what was going on: 'none' or the fault. */
  byPhase: Record<string, number[]>;
  /** Calls slower than 1 s. */
  slow: Array<{ t: number; client: number; method: string; ms: number; fault: string | null }>;
  errors: SoakError[];
  stale: Stale[];
  garbled: number;
}

/** drop_partition(1: db, 2: tbl, 3: list<string> part_vals, 4: bool deleteData) */
function dropPartitionArgs(db: string, table: string, values: readonly string[]) {
  return (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table)
      .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, values.length);
    for (const v of values) w.string(v);
    w.fieldBegin(TType.BOOL, 4).bool(true);
  };
}

function params(value: unknown, field: number): Map<string, string> {
  return new Map(((value as Record<number, unknown> | undefined)?.[field] as Array<[string, string]> | undefined) ?? []);
}

class SoakClient {
  readonly db: string;
  private readonly location: string;
  private readonly localAddress: string;
  private readonly perCall: boolean;
  private connection: CheckedClient | null = null;
  private dbVersion = 0;
  /** Live tables and the version parameter each carries. */
  private readonly tables = new Map<string, number>();
  private readonly dropped: string[] = [];
  private nextTable = 0;
  private readonly partitions = new Set<string>();
  private nextPartition = 0;
  private extra = false;

  constructor(readonly index: number, stack: StackStatus, private readonly rng: Rng, private readonly timeline: Timeline, private readonly tally: Tally) {
    this.db = index < RW_CLIENTS ? `soak_rw_${index}` : `soak_fed_${index}`;
    this.location = `${stack.warehouse}/${this.db}.db`;
    this.localAddress = `127.0.0.${40 + index}`;
    this.perCall = index % 3 !== 0;
  }

  get style(): string {
    return this.perCall ? 'connection per call' : 'persistent connection';
  }

  private spec(table: string, version?: number): TableSpec {
    return table === 'p'
      ? { db: this.db, table, location: `${this.location}/p`, columns: [['id', 'bigint']], partitionKeys: [['ds', 'string']] }
      : { db: this.db, table, location: `${this.location}/${table}`, columns: [['id', 'bigint'], ['v', 'string']], partitionKeys: [],
        parameters: version === undefined ? undefined : { v: String(version) } };
  }

  /** One call through the router; a reply that is an exception comes back as such (the caller decides). */
  private async call(method: string, args?: (w: BinaryWriter) => void): Promise<CallResult> {
    const started = performance.now();
    let client = this.connection;
    try {
      if (client === null || !client.usable) {
        client = await CheckedClient.connect(ROUTER_PORT, this.localAddress);
        if (!this.perCall) this.connection = client;
      }
      const reply = await client.call(method, args, 60_000);
      const ms = performance.now() - started;
      (this.tally.latencies[method] ??= []).push(ms);
      (this.tally.byPhase[this.timeline.fault === null ? 'no fault' : this.timeline.fault.replace(/ .*/, ' fault')] ??= []).push(ms);
      if (ms > 1000) this.tally.slow.push({ t: at(this.timeline), client: this.index, method, ms: Math.round(ms), fault: this.timeline.fault });
      return reply;
    } finally {
      this.tally.calls[method] = (this.tally.calls[method] ?? 0) + 1;
      if (this.perCall) client?.close();
    }
  }

  private error(method: string, kind: SoakError['kind'], message: string): void {
    if (kind === 'garbled') this.tally.garbled += 1;
    this.tally.errors.push({ t: at(this.timeline), client: this.index, method, kind, message: message.slice(0, 300),
      fault: this.timeline.fault, msSinceReload: Date.now() - this.timeline.lastReloadAt });
  }

  private stale(method: string, expected: string, got: string): void {
    this.tally.stale.push({ t: at(this.timeline), client: this.index, method, expected, got: got.slice(0, 300), fault: this.timeline.fault });
  }

  /** Runs `method`; returns the reply when it is a result (or the declared exception `allowed`), else records an error. */
  private async expect(method: string, args?: (w: BinaryWriter) => void, allowed?: number): Promise<CallResult | null> {
    let reply: CallResult;
    try {
      reply = await this.call(method, args);
    } catch (err) {
      this.error(method, err instanceof GarbledReply ? 'garbled' : 'transport', (err as Error).message);
      if (this.connection !== null && !this.connection.usable) this.connection = null;
      return null;
    }
    const problem = replyError(reply);
    if (problem === '') return reply;
    if (allowed !== undefined && reply.result[allowed] !== undefined) return reply;
    this.error(method, reply.type === 3 ? 'application_exception' : 'declared_exception', problem);
    return null;
  }

  async setUp(): Promise<void> {
    const must = async (method: string, args: (w: BinaryWriter) => void) => {
      const reply = await this.call(method, args);
      const problem = replyError(reply);
      if (problem !== '') throw new Error(`soak set-up, client ${this.index}: ${method}: ${problem}`);
    };
    await must('create_database', callArgs.createDatabase(this.db, this.location));
    await must('alter_database', callArgs.alterDatabase(this.db, this.location, { v: '0' }));
    await must('create_table', createTableArgs(this.spec('p')));
    await must('add_partitions', addPartitionsArgs(this.spec('p'), [['d0']]));
    this.partitions.add('d0');
    this.nextPartition = 1;
    await must('create_table', createTableArgs(this.spec('t0', 0)));
    this.tables.set('t0', 0);
    this.nextTable = 1;
  }

  async run(deadline: number): Promise<void> {
    const total = WEIGHTS.reduce((n, [, w]) => n + w, 0);
    while (Date.now() < deadline) {
      let roll = this.rng.next() * total;
      let op: Op = 'get_database';
      for (const [name, w] of WEIGHTS) { if ((roll -= w) < 0) { op = name; break; } }
      await this.step(op);
      await sleep(this.rng.int(10, 60));
    }
    this.connection?.close();
  }

  private async step(op: Op): Promise<void> {
    const rng = this.rng;
    switch (op) {
      case 'get_database': {
        const reply = await this.expect('get_database', callArgs.name(this.db));
        const got = params(reply?.result[0], 4).get('v');
        if (reply !== null && got !== String(this.dbVersion)) this.stale(op, `v=${this.dbVersion}`, `v=${got}`);
        return;
      }
      case 'get_table': {
        const live = [...this.tables.keys()];
        const askDropped = this.dropped.length > 0 && rng.chance(0.2);
        const table = askDropped ? rng.pick(this.dropped) : rng.pick(live);
        // get_table: 0 Table, 1 MetaException, 2 NoSuchObjectException
        const reply = await this.expect('get_table', dbTableArgs(this.db, table), 2);
        if (reply === null) return;
        if (askDropped) {
          if (reply.result[2] === undefined) this.stale(op, `${table} dropped`, `${table} exists`);
        } else if (reply.result[2] !== undefined) {
          this.stale(op, `${table} v=${this.tables.get(table)}`, 'NoSuchObjectException');
        } else {
          const got = params(reply.result[0], 9).get('v');
          if (got !== String(this.tables.get(table))) this.stale(op, `${table} v=${this.tables.get(table)}`, `v=${got}`);
        }
        return;
      }
      case 'get_all_databases': {
        const reply = await this.expect('get_all_databases');
        if (reply === null) return;
        const names = reply.result[0] as string[];
        if (!names.includes(this.db)) this.stale(op, `${this.db} listed`, 'missing');
        if (names.includes(`${this.db}_x`) !== this.extra) this.stale(op, `${this.db}_x ${this.extra ? 'listed' : 'absent'}`, this.extra ? 'missing' : 'listed');
        return;
      }
      case 'get_partition_names': {
        const reply = await this.expect('get_partition_names', partitionNamesArgs(this.db, 'p'));
        if (reply === null) return;
        const got = [...(reply.result[0] as string[])].sort().join(',');
        const want = [...this.partitions].map((v) => `ds=${v}`).sort().join(',');
        if (got !== want) this.stale(op, want, got);
        return;
      }
      case 'alter_database': {
        const version = this.dbVersion + 1;
        if (await this.expect('alter_database', callArgs.alterDatabase(this.db, this.location, { v: String(version) })) !== null) this.dbVersion = version;
        else await this.resync();
        return;
      }
      case 'create_table': {
        if (this.tables.size >= 8) return this.step('drop_table');
        const table = `t${this.nextTable++}`;
        if (await this.expect('create_table', createTableArgs(this.spec(table, 0))) !== null) this.tables.set(table, 0);
        else await this.resync();
        return;
      }
      case 'alter_table': {
        const table = rng.pick([...this.tables.keys()]);
        const version = this.tables.get(table)! + 1;
        if (await this.expect('alter_table', alterTableArgs(this.spec(table, version))) !== null) this.tables.set(table, version);
        else await this.resync();
        return;
      }
      case 'drop_table': {
        if (this.tables.size <= 1) return this.step('create_table');
        const table = rng.pick([...this.tables.keys()]);
        if (await this.expect('drop_table', (w) => { dbTableArgs(this.db, table)(w); w.fieldBegin(TType.BOOL, 3).bool(true); }) !== null) {
          this.tables.delete(table);
          this.dropped.push(table);
          if (this.dropped.length > 8) this.dropped.shift();
        } else await this.resync();
        return;
      }
      case 'add_partition': {
        if (this.partitions.size >= 12) return this.step('drop_partition');
        const value = `d${this.nextPartition++}`;
        if (await this.expect('add_partitions', addPartitionsArgs(this.spec('p'), [[value]])) !== null) this.partitions.add(value);
        else await this.resync();
        return;
      }
      case 'drop_partition': {
        if (this.partitions.size <= 1) return this.step('add_partition');
        const value = rng.pick([...this.partitions]);
        if (await this.expect('drop_partition', dropPartitionArgs(this.db, 'p', [value])) !== null) this.partitions.delete(value);
        else await this.resync();
        return;
      }
      case 'toggle_extra_db': {
        const name = `${this.db}_x`;
        const ok = this.extra
          ? await this.expect('drop_database', callArgs.dropDatabase(name))
          : await this.expect('create_database', callArgs.createDatabase(name, `${this.location}_x`));
        if (ok !== null) this.extra = !this.extra;
        else await this.resync();
        return;
      }
    }
  }

  /**
   * After a failed write the model may be wrong (the write may or may not have happened): read the
   * truth from the metastore itself, not through the router.
   */
  private async resync(): Promise<void> {
    const stack = status();
    const port = this.index < RW_CLIENTS ? stack.metastores.rw.port : stack.metastores.fed.port;
    try {
      const direct = await HmsTestClient.connect(port);
      try {
        const db = await direct.call('get_database', callArgs.name(this.db));
        this.dbVersion = Number(params(db.result[0], 4).get('v') ?? this.dbVersion);
        const tables = (await direct.call('get_all_tables', callArgs.name(this.db))).result[0] as string[];
        this.tables.clear();
        for (const table of tables) {
          if (table === 'p') continue;
          const t = await direct.call('get_table', dbTableArgs(this.db, table));
          this.tables.set(table, Number(params(t.result[0], 9).get('v') ?? 0));
        }
        const parts = (await direct.call('get_partition_names', partitionNamesArgs(this.db, 'p'))).result[0] as string[];
        this.partitions.clear();
        for (const p of parts) this.partitions.add(p.slice('ds='.length));
        this.extra = ((await direct.call('get_all_databases')).result[0] as string[]).includes(`${this.db}_x`);
      } finally {
        direct.close();
      }
    } catch (err) {
      process.stderr.write(`soak: client ${this.index} could not resync: ${(err as Error).message}\n`);
    }
  }
}

// ------------------------------------------------------------------ faults

interface FaultEvent {
  readonly kind: 'ro-metastore' | 'replica-mysql';
  readonly killedAtS: number;
  readonly pid: number;
  downSeconds?: number;
  restartSeconds?: number;
  replication?: { io: string; sql: string; caughtUpSeconds: number };
  failure?: string;
}

async function replicationState(replicaPort: number): Promise<{ io: string; sql: string }> {
  const [rows] = (await runAsRoot(replicaPort, 'SHOW SLAVE STATUS')) as [Array<Record<string, unknown>>];
  const row = rows[0] ?? {};
  return { io: String(row.Slave_IO_Running ?? 'none'), sql: String(row.Slave_SQL_Running ?? 'none') };
}

/** Replication running (both threads) and caught up with the primary; START SLAVE if need be. */
async function ensureReplication(stack: StackStatus): Promise<{ io: string; sql: string; caughtUpSeconds: number }> {
  const t0 = performance.now();
  const deadline = Date.now() + 60_000;
  let state = await replicationState(stack.mysql.replica.port);
  while (!(state.io === 'Yes' && state.sql === 'Yes')) {
    if (Date.now() > deadline) throw new Error(`replication does not run: IO ${state.io}, SQL ${state.sql}`);
    if (state.io === 'No' || state.sql === 'No') await runAsRoot(stack.mysql.replica.port, 'START SLAVE');
    await sleep(500);
    state = await replicationState(stack.mysql.replica.port);
  }
  await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port, 120);
  return { ...state, caughtUpSeconds: +((performance.now() - t0) / 1000).toFixed(1) };
}

/** Every part of the stack running, replication on and caught up. */
export async function restoreStack(stack: StackStatus): Promise<{ restored: boolean; detail: string }> {
  try {
    await up(stackLayout(stack.hiveVersion));
    const replication = await ensureReplication(stack);
    const now = status();
    return { restored: now.running, detail: `running ${now.running}, replication IO ${replication.io} SQL ${replication.sql}` };
  } catch (err) {
    return { restored: false, detail: (err as Error).message };
  }
}

async function injectFaults(stack: StackStatus, timeline: Timeline, deadline: number, everyMs: number, events: FaultEvent[]): Promise<void> {
  let next = Date.now() + 20_000;
  let kind: FaultEvent['kind'] = 'ro-metastore';
  // A fault starts only when it can finish (down, restart, catch-up) before the end.
  while (next + DOWN_MS + 30_000 < deadline) {
    await sleep(Math.max(0, next - Date.now()));
    next += everyMs;
    const now = status();
    const pid = kind === 'ro-metastore' ? now.metastores.ro.pid : now.mysql.replica.pid;
    const event: FaultEvent = { kind, killedAtS: at(timeline), pid: pid ?? -1 };
    events.push(event);
    try {
      if (pid === null || !now.running) throw new Error(`the stack is not all running before the fault (${kind} pid ${pid}); skipped`);
      process.kill(pid, 'SIGKILL');
      timeline.fault = `${kind} down`;
      process.stderr.write(`soak: t=${event.killedAtS}s killed ${kind} (pid ${pid})\n`);
      await sleep(DOWN_MS);
      event.downSeconds = DOWN_MS / 1000;
      timeline.fault = `${kind} restarting`;
      const t0 = performance.now();
      await up(stackLayout(stack.hiveVersion));
      event.restartSeconds = +((performance.now() - t0) / 1000).toFixed(1);
      const restarted = kind === 'ro-metastore' ? status().metastores.ro.pid : status().mysql.replica.pid;
      if (restarted !== null) timeline.ours.add(restarted);
      timeline.fault = `${kind} catching up`;
      event.replication = await ensureReplication(stack);
      process.stderr.write(`soak: t=${at(timeline)}s ${kind} back (restart ${event.restartSeconds} s, replication IO ${event.replication.io} SQL ${event.replication.sql})\n`);
    } catch (err) {
      event.failure = (err as Error).message;
      process.stderr.write(`soak: fault ${kind}: ${event.failure}\n`);
    } finally {
      timeline.fault = null;
    }
    kind = kind === 'ro-metastore' ? 'replica-mysql' : 'ro-metastore';
  }
}

/** Pids of the stack that changed without the injector (someone else restarting parts of the shared stack). */
async function watchPids(timeline: Timeline, deadline: number, out: string[]): Promise<void> {
  const pids = () => { const s = status(); return { ...Object.fromEntries(Object.entries(s.metastores).map(([k, v]) => [`metastore ${k}`, v.pid])),
    ...Object.fromEntries(Object.entries(s.mysql).map(([k, v]) => [`mysql ${k}`, v.pid])) }; };
  let last = pids();
  while (Date.now() < deadline) {
    await sleep(2000);
    const now = pids();
    for (const [part, pid] of Object.entries(now)) {
      const ours = (timeline.fault !== null && (part === 'metastore ro' || part === 'mysql replica')) || (pid !== null && timeline.ours.has(pid));
      if (pid !== last[part] && !ours) out.push(`t=${at(timeline)}s ${part} pid ${last[part]} -> ${pid}`);
    }
    last = now;
  }
}

// ------------------------------------------------------------------ reloads

interface Reload { readonly t: number; readonly map: MapName; readonly via: 'admin' | 'sighup'; readonly status: number; readonly version: string; readonly ok: boolean; readonly note?: string }

async function activeVersion(): Promise<string> {
  return ((await fetch(`http://127.0.0.1:${ADMIN_PORT}/routing`).then((r) => r.json())) as { version: string }).version;
}

async function reloadLoop(stack: StackStatus, token: string, router: ChildProcess, timeline: Timeline, deadline: number, out: Reload[]): Promise<void> {
  const versions = new Map<MapName, string>([['A', await activeVersion()]]);
  let current: MapName = 'A';
  let n = 0;
  while (Date.now() + RELOAD_EVERY_MS < deadline) {
    await sleep(RELOAD_EVERY_MS);
    n += 1;
    const map: MapName = n === 3 ? 'bad' : current === 'A' ? 'B' : 'A';
    const via = n % 4 === 0 ? 'sighup' : 'admin';
    writeFileSync(CONFIG_FILE, configLines(stack, token, map).join('\n'));
    timeline.lastReloadAt = Date.now();
    let statusCode = 0;
    let body = '';
    if (via === 'admin' || map === 'bad') {
      const res = await fetch(`http://127.0.0.1:${ADMIN_PORT}/routing/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      statusCode = res.status;
      body = await res.text();
    } else {
      router.kill('SIGHUP');
      await sleep(500);
    }
    const version = await activeVersion();
    if (map === 'bad') {
      // Refused with its problems; the old map keeps serving. Then the good file goes back.
      const ok = statusCode === 400 && /problems/.test(body) && version === versions.get(current);
      out.push({ t: at(timeline), map, via: 'admin', status: statusCode, version, ok, note: body.slice(0, 300) });
      writeFileSync(CONFIG_FILE, configLines(stack, token, current).join('\n'));
      continue;
    }
    const known = versions.get(map);
    if (known === undefined) versions.set(map, version);
    const ok = (via === 'sighup' || statusCode === 200) && version !== versions.get(current) && (known === undefined || known === version);
    out.push({ t: at(timeline), map, via, status: statusCode, version, ok });
    current = map;
  }
}

// ------------------------------------------------------------------ the soak

async function dropSoakDatabases(stack: StackStatus): Promise<void> {
  for (const [port, prefix, from, to] of [[stack.metastores.rw.port, 'soak_rw', 0, RW_CLIENTS], [stack.metastores.fed.port, 'soak_fed', RW_CLIENTS, CLIENTS]] as const) {
    const c = await HmsTestClient.connect(port);
    try {
      for (let i = from; i < to; i++) {
        await c.call('drop_database', callArgs.dropDatabase(`${prefix}_${i}`));
        await c.call('drop_database', callArgs.dropDatabase(`${prefix}_${i}_x`));
      }
    } finally {
      c.close();
    }
  }
}

function labelSums(metrics: ReadonlyMap<string, number>, name: string, labels: readonly string[], filter: readonly string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, value] of metrics) {
    if (!series.startsWith(`${name}{`) || !filter.every((f) => series.includes(f))) continue;
    const key = labels.map((l) => new RegExp(`${l}="([^"]*)"`).exec(series)?.[1] ?? '?').join('/');
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

export async function soak(stack: StackStatus, options: SoakOptions) {
  const minutes = options.minutes;
  const everyMs = (options.faultEvery ?? 60) * 1000;
  const loadAtStart = loadAverage();
  const token = randomBytes(16).toString('hex');
  const restoreOnSignal = () => {
    process.stderr.write('\nsoak: interrupted; restoring the stack...\n');
    void restoreStack(stack).then((r) => { process.stderr.write(`soak: ${r.detail}\n`); process.exit(130); });
  };
  process.once('SIGINT', restoreOnSignal);
  process.once('SIGTERM', restoreOnSignal);
  let router: ChildProcess | null = null;
  let restore: { restored: boolean; detail: string } = { restored: false, detail: 'not run' };
  try {
    const before = await restoreStack(stack);
    if (!before.restored) throw new Error(`the stack is not whole before the soak: ${before.detail}`);
    await dropSoakDatabases(stack);
    router = await startRouterProcess(CONFIG_NAME, configLines(stack, token, 'A'), ADMIN_PORT);
    const timeline: Timeline = { started: Date.now(), fault: null, lastReloadAt: Date.now(), ours: new Set() };
    const tally: Tally = { calls: {}, latencies: {}, byPhase: {}, slow: [], errors: [], stale: [], garbled: 0 };
    const clients = Array.from({ length: CLIENTS }, (_, i) => new SoakClient(i, stack, new Rng(options.seed * 1000 + i), timeline, tally));
    for (const c of clients) await c.setUp();
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port);
    const m0 = await scrapeMetrics(ADMIN_PORT);
    const rss0 = rssBytes(router.pid!);

    const t0 = Date.now();
    timeline.started = t0;
    timeline.lastReloadAt = t0;
    const deadline = t0 + minutes * 60_000;
    const faults: FaultEvent[] = [];
    const reloads: Reload[] = [];
    const external: string[] = [];
    let rssPeak = rss0;
    const rssTimer = setInterval(() => { rssPeak = Math.max(rssPeak, rssBytes(router!.pid!)); }, 1000);
    const progress = setInterval(() => {
      const calls = Object.values(tally.calls).reduce((a, b) => a + b, 0);
      process.stderr.write(`soak: t=${at(timeline)}s calls ${calls} errors ${tally.errors.length} stale ${tally.stale.length} fault ${timeline.fault ?? '-'}\n`);
    }, 30_000);
    try {
      await Promise.all([
        ...clients.map((c) => c.run(deadline)),
        injectFaults(stack, timeline, deadline, everyMs, faults),
        reloadLoop(stack, token, router, timeline, deadline, reloads),
        watchPids(timeline, deadline, external),
      ]);
    } finally {
      clearInterval(rssTimer);
      clearInterval(progress);
    }
    const seconds = (Date.now() - t0) / 1000;
    const m1 = await scrapeMetrics(ADMIN_PORT);
    const delta = (name: string, labels: string[] = []) => sumSeries(m1, name, labels) - sumSeries(m0, name, labels);
    const diff = (name: string, labels: string[], filter: string[] = []) => {
      const a = labelSums(m1, name, labels, filter);
      const b = labelSums(m0, name, labels, filter);
      return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    };
    const rwReads = delta('hms_router_calls_total', ['kind="read"', 'metastore="rw"']);
    const replicaReads = delta('hms_router_calls_total', ['kind="read"', 'metastore="rw"', 'role="replica"']);
    const reads = READS.reduce((n, m) => n + (tally.calls[m] ?? 0), 0);
    const total = Object.values(tally.calls).reduce((a, b) => a + b, 0);
    const errorsByKind: Record<string, number> = {};
    for (const e of tally.errors) errorsByKind[`${e.kind} (${e.method})`] = (errorsByKind[`${e.kind} (${e.method})`] ?? 0) + 1;
    const all = Object.values(tally.latencies).flat();
    restore = await restoreStack(stack);
    return {
      date: new Date().toISOString(),
      machine: { ...machineInfo(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
      minutes, seconds: Math.round(seconds),
      settings: {
        clients: CLIENTS, connectionPerCallClients: clients.filter((c) => c.style === 'connection per call').length,
        databasesOnRw: RW_CLIENTS, databasesOnFed: CLIENTS - RW_CLIENTS, consistency: 'client (maxWaitMs 200)',
        faultEverySeconds: everyMs / 1000, downSeconds: DOWN_MS / 1000, reloadEverySeconds: RELOAD_EVERY_MS / 1000, seed: options.seed,
      },
      goals: { garbledReplies: 0, staleReads: 0, unexpectedErrors: 0 },
      calls: { total, reads, writes: total - reads, perSecond: Math.round(total / seconds), byMethod: tally.calls,
        p50Ms: +percentile(all, 50).toFixed(2), p99Ms: +percentile(all, 99).toFixed(2), maxMs: all.length === 0 ? 0 : Math.round(percentile(all, 100)), // not Math.max(...all): 100k+ arguments overflow the stack
        byPhase: Object.fromEntries(Object.entries(tally.byPhase).map(([phase, l]) =>
          [phase, { calls: l.length, p50Ms: +percentile(l, 50).toFixed(2), p99Ms: +percentile(l, 99).toFixed(2), maxMs: Math.round(percentile(l, 100)) }])),
        over1s: tally.slow.length, slowest: [...tally.slow].sort((a, b) => b.ms - a.ms).slice(0, 15) },
      garbledReplies: tally.garbled,
      staleReads: tally.stale.length, staleExamples: tally.stale.slice(0, MAX_LISTED),
      // No error is expected: writes go to primaries (never killed), reads fall back to the primary.
      unexpectedErrors: tally.errors.length, errorsByKind, errors: tally.errors.slice(0, MAX_LISTED),
      faults, externalStackChanges: external,
      reloads: {
        outcomes: diff('hms_router_routing_reloads_total', ['source', 'outcome']),
        allAsExpected: reloads.every((r) => r.ok), badMapRefused: reloads.some((r) => r.map === 'bad' && r.ok), events: reloads,
      },
      router: {
        replicaShareOfRwReads: rwReads > 0 ? +(replicaReads / rwReads).toFixed(3) : null,
        readFallbacks: diff('hms_router_read_fallbacks_total', ['reason']),
        callOutcomes: diff('hms_router_calls_total', ['metastore', 'role', 'outcome']),
        backendErrors: diff('hms_router_backend_errors_total', ['metastore', 'code']),
        rssMiB: { start: Math.round(rss0 / 2 ** 20), peak: Math.round(rssPeak / 2 ** 20), end: Math.round(rssBytes(router.pid!) / 2 ** 20) },
      },
      stackRestored: restore.restored, stackAtEnd: restore.detail,
    };
  } finally {
    if (router !== null) await stopRouterProcess(router);
    if (!restore.restored) {
      restore = await restoreStack(stack);
      process.stderr.write(`soak: stack restore: ${restore.detail}\n`);
    }
    await dropSoakDatabases(status()).catch((err: Error) => process.stderr.write(`soak: could not drop the soak databases: ${err.message}\n`));
    process.removeListener('SIGINT', restoreOnSignal);
    process.removeListener('SIGTERM', restoreOnSignal);
  }
}
