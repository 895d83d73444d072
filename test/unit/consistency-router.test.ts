/**
 * ConsistencyRouter.decide: where a read goes, and why. No MySQL and no HMS: the module
 * gtid-server is replaced by a stand-in class (StandInGtidServer) whose queries are deferreds the
 * test settles, so the router's own PrimaryGtid and ReplicaTrackers run unchanged on top of it.
 * Replica endpoint pools, metrics and the logger are stand-ins too.
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { standInPool } from '../support/stand-in-pool';
import type { Logger } from 'pino';
import { ConsistencyRouter, type SessionView, type ReadDecision } from '../../src/consistency/consistency-router';
import { LocalTokenStore, type ClientTokenStore } from '../../src/consistency/token-store';
import { formatGtid, parseGtid, type GtidState } from '../../src/consistency/gtid';
import type { ServerRole } from '../../src/consistency/gtid-server';
import { configSchema, parseEndpoint, type MetastoreConfig } from '../../src/config/schema';
import { findMethod } from '../../src/hms/catalog';
import type { CallInfo } from '../../src/hms/call-info';
import type { EndpointPool } from '../../src/backends/endpoint-pool';
import { BackendError } from '../../src/backends/backend-error';
import type { RouterMetrics } from '../../src/admin/metrics';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

const standIn = vi.hoisted(() => {
  function deferred<T>(): Deferred<T> {
    let resolve!: (value: T) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  /** Stands in for GtidServer (src/consistency/gtid-server.ts): never opens a MySQL connection. */
  class StandInGtidServer {
    static readonly instances: StandInGtidServer[] = [];
    readonly address: string;
    readonly executedCalls: Array<{ role: ServerRole; reply: Deferred<GtidState> }> = [];
    readonly waitCalls: Array<{ token: GtidState; timeoutMs: number; reply: Deferred<boolean> }> = [];
    secondsBehindValue: number | null = 0;
    closed = false;

    constructor(readonly label: string, config: { host: string; port: number }, readonly queryTimeoutMs: number, readonly maxConnections = 8) {
      this.address = `${config.host}:${config.port}`;
      StandInGtidServer.instances.push(this);
    }

    executed(role: ServerRole): Promise<GtidState> {
      const reply = deferred<GtidState>();
      this.executedCalls.push({ role, reply });
      return reply.promise;
    }

    waitFor(token: GtidState, timeoutMs: number): Promise<boolean> {
      const reply = deferred<boolean>();
      this.waitCalls.push({ token, timeoutMs, reply });
      return reply.promise;
    }

    sqlThreadRunning: boolean | null = true;

    replicationStatus(): Promise<{ secondsBehind: number | null; sqlThreadRunning: boolean | null; sqlThreadError: string | null }> {
      return Promise.resolve({ secondsBehind: this.secondsBehindValue, sqlThreadRunning: this.sqlThreadRunning, sqlThreadError: null });
    }

    close(): Promise<void> {
      this.closed = true;
      return Promise.resolve();
    }
  }
  return { StandInGtidServer, deferred };
});

vi.mock('../../src/consistency/gtid-server', () => ({ GtidServer: standIn.StandInGtidServer }));

type StandInGtidServer = InstanceType<typeof standIn.StandInGtidServer>;

const ma = (text: string): GtidState => parseGtid('mariadb', text);

/** Lets every pending promise callback run. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

type Mode = 'session' | 'client' | 'strict' | 'off';

function metastoreConfig(mode: Mode, replicaNames: readonly string[] = ['r1'], maxWaitMs = 200): MetastoreConfig {
  const config = configSchema.parse({
    defaultMetastore: 'ms',
    metastores: {
      ms: {
        primary: { endpoints: ['primary-hms:9083'], mysql: { host: 'primary-db', port: 3306, user: 'hive' } },
        replicas: replicaNames.map((name) => ({ name, endpoints: [`${name}-hms:9083`], mysql: { host: `${name}-db`, port: 3306, user: 'hive' } })),
        consistency: { mode, maxWaitMs, pollIntervalMs: 1000, queryTimeoutMs: 500 },
      },
    },
  });
  return config.metastores.ms!;
}

function standInMetrics() {
  const recorded = {
    primaryGtidQueries: [] as object[],
    replicaWait: [] as Array<{ labels: object; seconds: number }>,
    replicaHealthy: [] as Array<{ labels: object; value: number }>,
    replicaStalled: [] as Array<{ labels: object; value: number }>,
    replicaLagTransactions: [] as Array<{ labels: object; value: number }>,
    replicaLagSeconds: [] as Array<{ labels: object; value: number }>,
    primaryMysqlUp: [] as Array<{ labels: object; value: number }>,
  };
  const gauge = (into: Array<{ labels: object; value: number }>) => ({ set: (labels: object, value: number) => { into.push({ labels, value }); } });
  const metrics = {
    primaryGtidQueries: { inc: (labels: object) => { recorded.primaryGtidQueries.push(labels); } },
    replicaWait: { observe: (labels: object, seconds: number) => { recorded.replicaWait.push({ labels, seconds }); } },
    replicaHealthy: gauge(recorded.replicaHealthy),
    replicaStalled: gauge(recorded.replicaStalled),
    replicaLagTransactions: gauge(recorded.replicaLagTransactions),
    replicaLagSeconds: gauge(recorded.replicaLagSeconds),
    primaryMysqlUp: gauge(recorded.primaryMysqlUp),
  };
  return { metrics: metrics as unknown as RouterMetrics, recorded };
}

const standInLogger = { info: () => undefined, warn: () => undefined } as unknown as Logger;

function call(method: string): CallInfo {
  const entry = findMethod(method);
  if (entry === undefined) throw new Error(`no catalog entry ${method}`);
  return { method, entry, db: 'default', catalog: null, table: null };
}

const READ = call('get_table');

function session(remoteAddress = '10.0.0.1:50000', identityUser: string | null = 'alice', pinned = false): SessionView {
  return { remoteAddress, identityUser, holders: new Map(), pinned };
}

const routers: ConsistencyRouter[] = [];

afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close()));
  standIn.StandInGtidServer.instances.length = 0;
});

interface Started {
  readonly router: ConsistencyRouter;
  readonly primary: StandInGtidServer;
  readonly replica: (name: string) => StandInGtidServer;
  readonly pools: ReadonlyMap<string, ReturnType<typeof standInPool>>;
  readonly recorded: ReturnType<typeof standInMetrics>['recorded'];
}

/**
 * Builds a router and answers each replica's first poll with `positions[name]` (an Error marks
 * that replica's MySQL unhealthy); then stops polling (replicas and the primary probe) so later
 * polls happen only when a test asks.
 */
async function start(mode: Mode, positions: Record<string, string | Error> = { r1: '0-1-10' }, maxWaitMs = 200): Promise<Started> {
  const names = Object.keys(positions);
  const config = metastoreConfig(mode, names, maxWaitMs);
  const pools = new Map(names.map((n) => [n, standInPool(`${n}-hms:9083`)]));
  const { metrics, recorded } = standInMetrics();
  const router = new ConsistencyRouter('ms', config, new Map(names.map((n) => [n, [pools.get(n)!] as unknown as EndpointPool[]])), metrics, standInLogger);
  routers.push(router);
  const byLabel = (label: string): StandInGtidServer => {
    const s = standIn.StandInGtidServer.instances.find((i) => i.label === label);
    if (s === undefined) throw new Error(`no stand-in GtidServer ${label}`);
    return s;
  };
  const replica = (name: string) => byLabel(`ms replica ${name}`);
  for (const name of names) {
    const polls = replica(name).executedCalls;
    expect(polls).toHaveLength(1);
    expect(polls[0]!.role).toBe('replica');
    const position = positions[name]!;
    if (position instanceof Error) polls[0]!.reply.reject(position);
    else polls[0]!.reply.resolve(ma(position));
  }
  await router.ready();
  router.stopPolling();
  return { router, primary: byLabel('ms primary'), replica, pools, recorded };
}

/** Starts decide() and answers the primary GTID read it triggers with `primaryPosition`. */
async function decideWithPrimary(s: Started, sess: SessionView, primaryPosition: string | Error): Promise<ReadDecision> {
  const before = s.primary.executedCalls.length;
  const p = s.router.decide(READ, sess);
  await flush();
  expect(s.primary.executedCalls).toHaveLength(before + 1);
  const q = s.primary.executedCalls[before]!;
  expect(q.role).toBe('primary');
  if (primaryPosition instanceof Error) q.reply.reject(primaryPosition);
  else q.reply.resolve(ma(primaryPosition));
  return p;
}

function replicaName(d: ReadDecision): string | null {
  return d.role === 'replica' ? d.replica.name : null;
}

describe('ConsistencyRouter: construction', () => {
  it('builds one GtidServer for the primary and one per replica, from the config', async () => {
    const s = await start('session', { r1: '0-1-1', r2: '0-1-1' });
    expect(standIn.StandInGtidServer.instances.map((i) => [i.label, i.address])).toEqual([
      ['ms primary', 'primary-db:3306'],
      ['ms replica r1', 'r1-db:3306'],
      ['ms replica r2', 'r2-db:3306'],
    ]);
    expect(s.router.splitting).toBe(true);
    expect(s.router.replicas.map((r) => r.name)).toEqual(['r1', 'r2']);
    await s.router.close();
    expect(standIn.StandInGtidServer.instances.every((i) => i.closed)).toBe(true);
  });

  it("mode 'off': no MySQL at all, no split, every call to the primary", async () => {
    const { metrics } = standInMetrics();
    const router = new ConsistencyRouter('ms', metastoreConfig('off'), new Map([['r1', [standInPool('r1-hms:9083')] as unknown as EndpointPool[]]]), metrics, standInLogger);
    routers.push(router);
    expect(standIn.StandInGtidServer.instances).toHaveLength(0);
    expect(router.splitting).toBe(false);
    await router.ready();
    expect(await router.decide(READ, session())).toEqual({ role: 'primary', reason: null });
  });

  it('no replicas: no split', async () => {
    const { metrics } = standInMetrics();
    const router = new ConsistencyRouter('ms', metastoreConfig('session', []), new Map(), metrics, standInLogger);
    routers.push(router);
    expect(standIn.StandInGtidServer.instances).toHaveLength(0);
    expect(router.splitting).toBe(false);
    expect(await router.decide(READ, session())).toEqual({ role: 'primary', reason: null });
  });
});

describe('ConsistencyRouter.decide', () => {
  it('non-read kinds and unknown methods go to the primary with reason null, without reading any GTID', async () => {
    const s = await start('session');
    const kinds = new Set<string>();
    for (const method of ['create_table', 'set_ugi', 'getMetaConf', 'open_txns', 'get_current_notificationEventId', 'getVersion', 'create_role']) {
      const c = call(method);
      expect(c.entry!.kind).not.toBe('read');
      kinds.add(c.entry!.kind);
      expect(await s.router.decide(c, session())).toEqual({ role: 'primary', reason: null });
    }
    expect([...kinds].sort()).toEqual(['global', 'session', 'txn', 'write']);
    expect(await s.router.decide({ method: 'no_such_method', entry: null, db: null, catalog: null, table: null }, session()))
      .toEqual({ role: 'primary', reason: null });
    expect(s.primary.executedCalls).toHaveLength(0);
  });

  it('a read whose token a replica covers goes to that replica, with no wait', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const d = await decideWithPrimary(s, session(), '0-1-10');
    expect(replicaName(d)).toBe('r1');
    expect(s.replica('r1').waitCalls).toHaveLength(0);
    expect(s.recorded.primaryGtidQueries).toEqual([{ metastore: 'ms' }]);
    expect(s.recorded.replicaWait).toHaveLength(0);
  });

  it('a read whose token no replica covers waits on the replica; reached in time → replica', async () => {
    const s = await start('session', { r1: '0-1-10' }, 150);
    const p = s.router.decide(READ, session());
    await flush();
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-12'));
    await flush();
    const waits = s.replica('r1').waitCalls;
    expect(waits).toHaveLength(1);
    expect(formatGtid(waits[0]!.token)).toBe('0-1-12');
    expect(waits[0]!.timeoutMs).toBe(150);
    waits[0]!.reply.resolve(true);
    expect(replicaName(await p)).toBe('r1');
    expect(s.recorded.replicaWait.map((w) => w.labels)).toEqual([{ metastore: 'ms', outcome: 'covered' }]);
  });

  it("not covered and the wait times out → primary, 'replica_lagging'", async () => {
    const s = await start('session', { r1: '0-1-10' });
    const p = s.router.decide(READ, session());
    await flush();
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-12'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    expect(await p).toEqual({ role: 'primary', reason: 'replica_lagging' });
    expect(s.recorded.replicaWait.map((w) => w.labels)).toEqual([{ metastore: 'ms', outcome: 'timeout' }]);
  });

  it("maxWaitMs 0: not covered → primary 'replica_lagging' without any wait query", async () => {
    const s = await start('session', { r1: '0-1-10' }, 0);
    expect(await decideWithPrimary(s, session(), '0-1-12')).toEqual({ role: 'primary', reason: 'replica_lagging' });
    expect(s.replica('r1').waitCalls).toHaveLength(0);
  });

  it("the replica's wait fails → primary 'replica_unhealthy', and the replica is then skipped", async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    const p = s.router.decide(READ, sess);
    await flush();
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-12'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.reject(new Error('MySQL ms replica r1: Query inactivity timeout'));
    expect(await p).toEqual({ role: 'primary', reason: 'replica_unhealthy' });
    // The session's token is cached; the replica is now unhealthy: no wait is tried.
    expect(await s.router.decide(READ, sess)).toEqual({ role: 'primary', reason: 'replica_unhealthy' });
    expect(s.replica('r1').waitCalls).toHaveLength(1);
  });

  it("the primary's GTID cannot be read → primary 'primary_gtid_unavailable'; no more queries until a probe reads it", async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    expect(await decideWithPrimary(s, sess, new Error('MySQL ms primary (primary-db:3306): connect ETIMEDOUT')))
      .toEqual({ role: 'primary', reason: 'primary_gtid_unavailable' });
    expect(sess.holders.get('ms')?.token ?? null).toBeNull();
    // Known failing: the next read does not wait for another query that would time out too.
    expect(await s.router.decide(READ, sess)).toEqual({ role: 'primary', reason: 'primary_gtid_unavailable' });
    expect(s.primary.executedCalls).toHaveLength(1);
    // The probe finds it back; reads use tokens again.
    const probe = s.router.probePrimary();
    await flush();
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-9'));
    await probe;
    expect(replicaName(await decideWithPrimary(s, sess, '0-1-10'))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(3);
  });

  it("no healthy replica (MySQL down) → primary 'replica_unhealthy'", async () => {
    const s = await start('session', { r1: new Error('connect ECONNREFUSED r1-db:3306'), r2: new Error('Access denied') });
    expect(await decideWithPrimary(s, session(), '0-1-1')).toEqual({ role: 'primary', reason: 'replica_unhealthy' });
    expect(s.replica('r1').waitCalls).toHaveLength(0);
    expect(s.replica('r2').waitCalls).toHaveLength(0);
  });

  it("no healthy replica (every replica HMS endpoint failing) → primary 'replica_unhealthy'", async () => {
    const s = await start('session', { r1: '0-1-10' });
    s.pools.get('r1')!.failure = new BackendError('connect_failed', 'r1-hms:9083', 'connect ECONNREFUSED r1-hms:9083', false);
    expect(await decideWithPrimary(s, session(), '0-1-1')).toEqual({ role: 'primary', reason: 'replica_unhealthy' });
  });

  it('an unhealthy replica is skipped for a healthy one', async () => {
    const s = await start('session', { r1: new Error('down'), r2: '0-1-10' });
    expect(replicaName(await decideWithPrimary(s, session(), '0-1-10'))).toBe('r2');
  });

  it('a covering replica is preferred over a less busy one that would need a wait', async () => {
    const s = await start('session', { r1: '0-1-5', r2: '0-1-10' });
    s.router.replicas.find((r) => r.name === 'r2')!.busy = 7;
    expect(replicaName(await decideWithPrimary(s, session(), '0-1-10'))).toBe('r2');
    expect(s.replica('r1').waitCalls).toHaveLength(0);
  });

  it('among covering replicas the least busy one is chosen; when none covers, the least busy one waits', async () => {
    const s = await start('session', { r1: '0-1-10', r2: '0-1-10' });
    const [r1, r2] = [s.router.replicas[0]!, s.router.replicas[1]!];
    r1.busy = 3;
    r2.busy = 1;
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.1:1'), '0-1-10'))).toBe('r2');
    r1.busy = 0;
    const p = s.router.decide(READ, session('10.0.0.1:2'));
    await flush();
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-11'));
    await flush();
    expect(s.replica('r1').waitCalls).toHaveLength(1);
    expect(s.replica('r2').waitCalls).toHaveLength(0);
    s.replica('r1').waitCalls[0]!.reply.resolve(true);
    expect(replicaName(await p)).toBe('r1');
  });

  it('pinned sessions read the primary, without reading any GTID', async () => {
    const s = await start('session', { r1: '0-1-10' });
    expect(await s.router.decide(READ, session('10.0.0.1:1', 'alice', true))).toEqual({ role: 'primary', reason: null });
    expect(s.primary.executedCalls).toHaveLength(0);
  });
});

describe('ConsistencyRouter.decide: stalled replicas', () => {
  afterEach(() => { vi.useRealTimers(); });

  /** One poll of replica `name` at the current (fake) time, its MySQL answering `position`. */
  async function poll(s: Started, name: string, position: string): Promise<void> {
    const tracker = s.router.replicas.find((r) => r.name === name)!;
    const done = tracker.poll();
    await flush();
    s.replica(name).executedCalls.at(-1)!.reply.resolve(ma(position));
    await done;
  }

  /** r1's SQL thread stopped (and the primary ahead of it) for 2 s of polls: stalled. */
  async function stallR1(s: Started): Promise<void> {
    s.replica('r1').sqlThreadRunning = false;
    for (let i = 0; i < 3; i++) {
      await poll(s, 'r1', '0-1-10');
      vi.setSystemTime(Date.now() + 1000);
    }
    expect(s.router.describe().replicas.find((r) => r.name === 'r1')!.stalled).toMatch(/SQL thread is not running/);
  }

  it('a stalled replica is not waited for: another that applies is, and with none the read goes to the primary at once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const s = await start('session', { r1: '0-1-10', r2: '0-1-10' });
    expect(replicaName(await decideWithPrimary(s, session(), '0-1-10'))).not.toBeNull(); // primary position known
    await stallR1(s);
    // r1 is the least busy, but stalled: the wait goes to r2.
    s.router.replicas.find((r) => r.name === 'r2')!.busy = 5;
    const p = s.router.decide(READ, session('10.0.0.2:1'));
    await flush();
    s.primary.executedCalls.at(-1)!.reply.resolve(ma('0-1-12'));
    await flush();
    expect(s.replica('r1').waitCalls).toHaveLength(0);
    s.replica('r2').waitCalls[0]!.reply.resolve(true);
    expect(replicaName(await p)).toBe('r2');

    s.replica('r2').sqlThreadRunning = false;
    for (let i = 0; i < 3; i++) { await poll(s, 'r2', '0-1-12'); vi.setSystemTime(Date.now() + 1000); }
    expect(await decideWithPrimary(s, session('10.0.0.3:1'), '0-1-13')).toEqual({ role: 'primary', reason: 'replica_stalled' });
    expect(s.replica('r1').waitCalls).toHaveLength(0);
    expect(s.replica('r2').waitCalls).toHaveLength(1);
    expect(s.recorded.replicaWait).toHaveLength(1); // no wait was observed for the stalled read

    // A token a stalled replica covers is still served there.
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.4:1'), '0-1-12'))).toBe('r2');
  });

  it('a stalled replica whose SQL thread runs again is waited for at once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const s = await start('session', { r1: '0-1-10' });
    expect(replicaName(await decideWithPrimary(s, session(), '0-1-10'))).toBe('r1');
    await stallR1(s);
    expect(await decideWithPrimary(s, session('10.0.0.2:1'), '0-1-12')).toEqual({ role: 'primary', reason: 'replica_stalled' });
    s.replica('r1').sqlThreadRunning = true;
    await poll(s, 'r1', '0-1-10');
    const p = s.router.decide(READ, session('10.0.0.3:1'));
    await flush();
    s.primary.executedCalls.at(-1)!.reply.resolve(ma('0-1-12'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(true);
    expect(replicaName(await p)).toBe('r1');
  });
});

describe('ConsistencyRouter: session tokens', () => {
  it('session mode: the token is read once per session and reused until a write', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    expect(replicaName(await decideWithPrimary(s, sess, '0-1-10'))).toBe('r1');
    expect(formatGtid(sess.holders.get('ms')!.token!)).toBe('0-1-10');
    expect(replicaName(await s.router.decide(READ, sess))).toBe('r1');
    expect(replicaName(await s.router.decide(READ, sess))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(1);
    // Another connection of the same client does not share it in session mode.
    expect(replicaName(await decideWithPrimary(s, session(sess.remoteAddress.replace(/\d+$/, '50001')), '0-1-10'))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(2);
  });

  it('session mode: afterPrimaryWrite makes the next read fetch a fresh token (which includes the write)', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    expect(replicaName(await decideWithPrimary(s, sess, '0-1-10'))).toBe('r1');
    s.router.afterPrimaryWrite(sess);
    expect(sess.holders.get('ms')!.token).toBeNull();
    // The write is 0-1-11: the replica has not got it and the wait times out.
    const p = s.router.decide(READ, sess);
    await flush();
    expect(s.primary.executedCalls).toHaveLength(2);
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-11'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    expect(await p).toEqual({ role: 'primary', reason: 'replica_lagging' });
    expect(formatGtid(sess.holders.get('ms')!.token!)).toBe('0-1-11');
  });

  it('client mode: connections of one client (same ip and user) share a token; a write by one refreshes it for all', async () => {
    const s = await start('client', { r1: '0-1-10' });
    const a = session('10.0.0.1:50000', 'alice');
    const b = session('10.0.0.1:50001', 'alice');
    expect(replicaName(await decideWithPrimary(s, a, '0-1-10'))).toBe('r1');
    expect(replicaName(await s.router.decide(READ, b))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(1);
    // In client mode the session's own holders map is not used.
    expect(a.holders.size).toBe(0);

    // a writes; b (a new connection of the same client, e.g. Presto) must see it.
    s.router.afterPrimaryWrite(a);
    const p = s.router.decide(READ, b);
    await flush();
    expect(s.primary.executedCalls).toHaveLength(2);
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-11'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    expect(await p).toEqual({ role: 'primary', reason: 'replica_lagging' });
  });

  it('client mode: another user or another address has its own token', async () => {
    const s = await start('client', { r1: '0-1-10' });
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.1:50000', 'alice'), '0-1-10'))).toBe('r1');
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.1:50000', 'bob'), '0-1-10'))).toBe('r1');
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.2:50000', 'alice'), '0-1-10'))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(3);
    // bob's write does not cost alice a new token.
    s.router.afterPrimaryWrite(session('10.0.0.1:50009', 'bob'));
    expect(replicaName(await s.router.decide(READ, session('10.0.0.1:50003', 'alice')))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(3);
  });

  it('session mode: a token read that started before a write is not stored after it', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    const p = s.router.decide(READ, sess);
    await flush();
    expect(s.primary.executedCalls).toHaveLength(1);
    // A write completes while the token read is in flight (it read the position before the write).
    s.router.afterPrimaryWrite(sess);
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-10'));
    // The read that was concurrent with the write may use that token...
    expect(replicaName(await p)).toBe('r1');
    // ...but it is not kept: the next read fetches a token that includes the write.
    expect(sess.holders.get('ms')!.token).toBeNull();
    const q = s.router.decide(READ, sess);
    await flush();
    expect(s.primary.executedCalls).toHaveLength(2);
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-11'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    expect(await q).toEqual({ role: 'primary', reason: 'replica_lagging' });
  });

  it('client mode: a token read that started before another connection\'s write is not stored after it', async () => {
    const s = await start('client', { r1: '0-1-10' });
    const reader = session('10.0.0.1:50000', 'alice');
    const writer = session('10.0.0.1:50001', 'alice');
    const p = s.router.decide(READ, reader);
    await flush();
    s.router.afterPrimaryWrite(writer);
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-10'));
    expect(replicaName(await p)).toBe('r1');
    const q = s.router.decide(READ, reader);
    await flush();
    expect(s.primary.executedCalls).toHaveLength(2);
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-10'));
    expect(replicaName(await q)).toBe('r1');
  });

  it('a token read without a concurrent write is stored', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const sess = session();
    s.router.afterPrimaryWrite(sess); // an earlier write, before the read started
    await decideWithPrimary(s, sess, '0-1-9');
    expect(formatGtid(sess.holders.get('ms')!.token!)).toBe('0-1-9');
  });

  it('strict mode: every read takes a fresh primary GTID, even without writes', async () => {
    const s = await start('strict', { r1: '0-1-10' });
    const sess = session();
    expect(replicaName(await decideWithPrimary(s, sess, '0-1-10'))).toBe('r1');
    expect(replicaName(await decideWithPrimary(s, sess, '0-1-10'))).toBe('r1');
    expect(replicaName(await decideWithPrimary(s, session('10.0.0.9:1', 'bob'), '0-1-10'))).toBe('r1');
    expect(s.primary.executedCalls).toHaveLength(3);
    // A newer primary position is honoured at once.
    const p = s.router.decide(READ, sess);
    await flush();
    s.primary.executedCalls[3]!.reply.resolve(ma('0-1-11'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    expect(await p).toEqual({ role: 'primary', reason: 'replica_lagging' });
    expect(s.recorded.primaryGtidQueries).toHaveLength(4);
  });

  it('strict mode: a primary GTID failure sends the read to the primary', async () => {
    const s = await start('strict', { r1: '0-1-10' });
    expect(await decideWithPrimary(s, session(), new Error('gone'))).toEqual({ role: 'primary', reason: 'primary_gtid_unavailable' });
  });

  it('concurrent reads of different sessions share the primary GTID reads (coalescing)', async () => {
    const s = await start('session', { r1: '0-1-10' });
    const first = s.router.decide(READ, session('10.0.0.1:1'));
    await flush();
    const later = [s.router.decide(READ, session('10.0.0.2:1')), s.router.decide(READ, session('10.0.0.3:1'))];
    await flush();
    expect(s.primary.executedCalls).toHaveLength(1);
    s.primary.executedCalls[0]!.reply.resolve(ma('0-1-10'));
    expect(replicaName(await first)).toBe('r1');
    await flush();
    expect(s.primary.executedCalls).toHaveLength(2);
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-10'));
    expect((await Promise.all(later)).map(replicaName)).toEqual(['r1', 'r1']);
    expect(s.recorded.primaryGtidQueries).toHaveLength(2);
  });

  it('afterPrimaryWrite does nothing when not splitting', async () => {
    const { metrics } = standInMetrics();
    const router = new ConsistencyRouter('ms', metastoreConfig('off'), new Map(), metrics, standInLogger);
    routers.push(router);
    const sess = session();
    router.afterPrimaryWrite(sess);
    expect(sess.holders.size).toBe(0);
  });
});

describe('ConsistencyRouter: lag and describe', () => {
  it('collectLag reports health, transactions behind the last primary read, and seconds behind', async () => {
    const s = await start('session', { r1: '0-1-90,1-2-5', r2: new Error('down') });
    await decideWithPrimary(s, session(), '0-1-90');
    // A later primary read (strict or another session) updates the lag basis.
    const p = s.router.decide(READ, session('10.0.0.2:1'));
    await flush();
    s.primary.executedCalls[1]!.reply.resolve(ma('0-1-100,1-2-7'));
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    await p;
    s.router.collectLag();
    expect(s.recorded.primaryMysqlUp).toEqual([{ labels: { metastore: 'ms' }, value: 1 }]);
    expect(s.recorded.replicaHealthy).toEqual([
      { labels: { metastore: 'ms', replica: 'r1' }, value: 1 },
      { labels: { metastore: 'ms', replica: 'r2' }, value: 0 },
    ]);
    expect(s.recorded.replicaLagTransactions).toEqual([{ labels: { metastore: 'ms', replica: 'r1' }, value: 12 }]);
    expect(s.recorded.replicaLagSeconds).toEqual([{ labels: { metastore: 'ms', replica: 'r1' }, value: 0 }]);
  });

  it('describe names servers and health, never passwords', async () => {
    const s = await start('session', { r1: '0-1-1' });
    const text = JSON.stringify(s.router.describe());
    expect(text).toContain('primary-db:3306');
    expect(text).toContain('r1-db:3306');
    expect(text).not.toContain('password');
    expect(s.router.describe()).toMatchObject({ metastore: 'ms', mode: 'session', splitting: true, primaryGtidError: null,
      primaryGtidReadAt: null, replicas: [{ name: 'r1', healthy: true, reason: null, mysqlError: null, executedGtid: '0-1-1', transactionsBehind: null }] });
  });

  it('describe gives lag against the last primary read and when that read was', async () => {
    const s = await start('session', { r1: '0-1-90,1-2-5' });
    const p = decideWithPrimary(s, session(), '0-1-95,1-2-5');
    await flush();
    s.replica('r1').waitCalls[0]!.reply.resolve(false);
    await p;
    const state = s.router.describe();
    expect(state.primaryGtidReadAt).not.toBeNull();
    expect(Date.now() - Date.parse(state.primaryGtidReadAt!)).toBeLessThan(5000);
    expect(state.replicas[0]).toMatchObject({ name: 'r1', transactionsBehind: 5, executedGtid: '0-1-90,1-2-5', secondsBehind: 0 });
  });
});

/**
 * A shared store stands in as a LocalTokenStore that says it is shared (kind 'redis'), so early
 * reads apply; `writeElsewhere` is a write of the client through another router.
 */
class SharedStoreStandIn implements ClientTokenStore {
  readonly kind = 'redis';
  private readonly tokens = new LocalTokenStore(60_000);
  get(metastore: string, client: string) { return this.tokens.get(metastore, client); }
  offer(metastore: string, client: string, generation: string, token: GtidState) { return this.tokens.offer(metastore, client, generation, token); }
  invalidate(metastore: string, client: string) { return this.tokens.invalidate(metastore, client); }
  close() { return Promise.resolve(); }
  writeElsewhere(client: string): Promise<void> { return this.tokens.invalidate('ms', client); }
}

describe('ConsistencyRouter: early replica reads (client mode, shared store)', () => {
  async function startShared(position = '0-1-10') {
    const config = metastoreConfig('client', ['r1']);
    const pool = standInPool('r1-hms:9083');
    const { metrics } = standInMetrics();
    const store = new SharedStoreStandIn();
    const router = new ConsistencyRouter('ms', config, new Map([['r1', [pool] as unknown as EndpointPool[]]]), metrics, standInLogger, store);
    routers.push(router);
    const replica = standIn.StandInGtidServer.instances.find((i) => i.label === 'ms replica r1')!;
    replica.executedCalls[0]!.reply.resolve(ma(position));
    await router.ready();
    router.stopPolling();
    const primary = standIn.StandInGtidServer.instances.find((i) => i.label === 'ms primary')!;
    return { router, store, primary };
  }
  const client = '10.0.0.1|alice';

  /** A first read of the client: the store has no token, the primary's GTID becomes it (and the hint). */
  async function seeToken(router: ConsistencyRouter, primary: StandInGtidServer, position: string): Promise<void> {
    const first = router.decide(READ, session());
    await flush();
    primary.executedCalls.at(-1)!.reply.resolve(ma(position));
    await first;
    await flush();
  }

  it('no token seen here yet: no early read (the store is asked first)', async () => {
    const { router, primary } = await startShared();
    const p = router.decide(READ, session());
    await flush();
    primary.executedCalls.at(-1)!.reply.resolve(ma('0-1-10'));
    const d = await p;
    expect(d.role === 'replica' && d.early).toBeUndefined();
  });

  it('a token seen before and covered: the read goes early, and is kept when the store returns that token', async () => {
    const { router, primary } = await startShared();
    await seeToken(router, primary, '0-1-9');
    const d = await router.decide(READ, session());
    expect(d.role).toBe('replica');
    if (d.role !== 'replica' || d.early === undefined) throw new Error('expected an early read');
    expect((await d.early).verdict).toBe('covered');
  });

  it('a write through another router meanwhile: the early reply is not kept; decided again with the store\'s fresh token', async () => {
    const { router, store, primary } = await startShared('0-1-10');
    await seeToken(router, primary, '0-1-9');
    await store.writeElsewhere(client);
    const d = await router.decide(READ, session());
    if (d.role !== 'replica' || d.early === undefined) throw new Error('expected an early read');
    const pending = d.early;
    await flush();
    // The store has no token now: the check reads a fresh one from the primary, past the replica.
    primary.executedCalls.at(-1)!.reply.resolve(ma('0-1-12'));
    const check = await pending;
    expect(check.verdict).toBe('recheck');
    if (check.verdict !== 'recheck') return;
    const again = check.redo();
    await flush();
    // The replica is polled / waited on for 0-1-12; it does not get there: the primary.
    const replica = standIn.StandInGtidServer.instances.find((i) => i.label === 'ms replica r1')!;
    replica.waitCalls.at(-1)?.reply.resolve(false);
    replica.executedCalls.at(-1)?.reply.resolve(ma('0-1-10'));
    const redone = await again;
    expect(redone.role).toBe('primary');
  });

  it('a write through this router drops the hint: the next read asks the store first', async () => {
    const { router, primary } = await startShared();
    await seeToken(router, primary, '0-1-9');
    await router.afterPrimaryWrite(session());
    const p = router.decide(READ, session());
    await flush();
    primary.executedCalls.at(-1)!.reply.resolve(ma('0-1-10'));
    const d = await p;
    expect(d.role === 'replica' && d.early).toBeUndefined();
  });
});
