/**
 * GET /backends as BackendsViewBuilder builds it: every metastore with its modes, primary endpoints
 * in config order (health, last error with the time it was first seen, pool usage summed over
 * identities), replicas (lag, MySQL health, executed GTID) and the primary's MySQL. Stand-in pools
 * and consistency state: no network.
 */
import { describe, expect, it } from 'vitest';
import { BackendsViewBuilder, type ConsistencyLike, type PoolLike } from '../../src/admin/backends-view';
import { parseConfig, routingMapOf } from '../../src/config/load';
import { parseEndpoint } from '../../src/config/schema';
import { BackendError } from '../../src/backends/backend-error';
import type { PoolStats } from '../../src/backends/endpoint-pool';
import type { ConsistencyState, ReplicaState } from '../../src/consistency/consistency-router';

const PASSWORD = 'pw-9f2c7e1d-never-shown';

const config = parseConfig(`
admin: { token: "token-4b8e0a5c-never-shown" }
metastores:
  rw:
    primary:
      endpoints: ["hms-a:9083", "thrift://hms-b:9083"]
      mysql: { host: db-primary, port: 3306, user: router, password: ${PASSWORD} }
    replicas:
      - { name: r1, endpoints: ["hms-ro:9083"], mysql: { host: db-replica, port: 3306, user: router, password: ${PASSWORD} } }
    consistency: { mode: client, maxWaitMs: 150 }
    transport: framed
  fed:
    primary: { endpoints: ["hms-fed:9083"] }
    replicas:
      - { name: unused, endpoints: ["hms-fed-ro:9083"], mysql: { user: u } }
    consistency: { mode: "off" }
defaultMetastore: rw
routing:
  routes: [{ glob: "fed_*", metastore: fed }]
  access: { fed: { mode: write-listed, writableDatabases: [fed_scratch] } }
`, 'test.yaml');

class StandInPool implements PoolLike {
  failure: BackendError | null = null;
  constructor(readonly endpoint: ReturnType<typeof parseEndpoint>, private readonly poolStats: PoolStats[] = []) {}
  recentFailure(): BackendError | null { return this.failure; }
  get inService(): boolean { return this.failure === null; }
  readonly breaker = { describe: () => ({ state: 'closed' as const, since: '2024-01-01T00:00:00.000Z', reason: null }) };
  stats(): PoolStats[] { return this.poolStats; }
}

const stats = (identity: string, borrowed: number, available: number, pending: number): PoolStats =>
  ({ identity, size: borrowed + available, borrowed, available, pending });

function replicaState(overrides: Partial<ReplicaState> = {}): ReplicaState {
  return {
    name: 'r1', mysql: 'db-replica:3306', mysqlError: null, healthy: true, reason: null, busy: 1, stalled: null,
    secondsBehind: 3, transactionsBehind: 12, executedGtid: '0-1-88', ...overrides,
  };
}

function setup() {
  const hmsA = new StandInPool(parseEndpoint('hms-a:9083'), [stats('(none)', 1, 3, 0), stats('alice', 2, 0, 4)]);
  const hmsB = new StandInPool(parseEndpoint('hms-b:9083'));
  const hmsRo = new StandInPool(parseEndpoint('hms-ro:9083'), [stats('(none)', 0, 2, 0)]);
  const hmsFed = new StandInPool(parseEndpoint('hms-fed:9083'));
  let rwState: ConsistencyState = {
    metastore: 'rw', mode: 'client', splitting: true, primaryMysql: 'db-primary:3306', primaryGtidError: null,
    primaryGtidReadAt: '2026-01-01T00:00:00.000Z', replicas: [replicaState()],
  };
  const rw: ConsistencyLike = { describe: () => rwState, replicas: [{ name: 'r1', pools: [hmsRo] }] };
  const fed: ConsistencyLike = {
    describe: () => ({ metastore: 'fed', mode: 'off', splitting: false, primaryMysql: null, primaryGtidError: null, primaryGtidReadAt: null, replicas: [] }),
    replicas: [],
  };
  let clock = Date.parse('2026-03-04T05:06:07.000Z');
  const builder = new BackendsViewBuilder({
    config,
    routingMap: () => routingMapOf(config),
    // Healthy-first order, as MetastoreBackends.primaryCandidates gives them.
    primaryPools: (name) => (name === 'rw' ? [hmsB, hmsA] : [hmsFed]),
    consistency: (name) => (name === 'rw' ? rw : name === 'fed' ? fed : undefined),
  }, () => new Date(clock));
  return {
    builder, hmsA, hmsB, hmsRo,
    advance(ms: number) { clock += ms; },
    setRw(next: Partial<ConsistencyState>) { rwState = { ...rwState, ...next }; },
  };
}

describe('BackendsViewBuilder', () => {
  it('describes every metastore: default, access, consistency, transport, endpoints in config order', () => {
    const view = setup().builder.build();
    expect(view.defaultMetastore).toBe('rw');
    expect(view.generatedAt).toBe('2026-03-04T05:06:07.000Z');
    expect(view.metastores.map((m) => m.name)).toEqual(['rw', 'fed']);
    const [rw, fed] = view.metastores;
    expect(rw).toMatchObject({
      default: true, access: { mode: 'read-write' }, transport: 'framed',
      consistency: { mode: 'client', splitting: true, maxWaitMs: 150, unusedReplicas: [] },
    });
    expect(rw!.primary.endpoints.map((e) => e.address)).toEqual(['hms-a:9083', 'hms-b:9083']);
    expect(fed).toMatchObject({
      default: false, access: { mode: 'write-listed', writableDatabases: ['fed_scratch'] },
      consistency: { mode: 'off', splitting: false, unusedReplicas: ['unused'] }, primary: { mysql: null }, replicas: [],
    });
  });

  it('sums pool usage over identities and shows the endpoint\'s circuit breaker', () => {
    const a = setup().builder.build().metastores[0]!.primary.endpoints[0]!;
    expect(a).toEqual({
      address: 'hms-a:9083', healthy: true, lastError: null,
      pool: { borrowed: 3, available: 3, pending: 4, size: 6, identities: 2 },
      breaker: { state: 'closed', since: '2024-01-01T00:00:00.000Z', reason: null },
    });
  });

  it('shows a connect failure while it holds, and keeps it, with the time first seen, after it clears', () => {
    const s = setup();
    const failure = new BackendError('connect_failed', 'hms-b:9083', 'cannot connect to metastore hms-b:9083: ECONNREFUSED', false);
    s.hmsB.failure = failure;
    const first = s.builder.build().metastores[0]!.primary.endpoints[1]!;
    expect(first.healthy).toBe(false);
    expect(first.lastError).toEqual({ code: 'connect_failed', message: failure.message, at: '2026-03-04T05:06:07.000Z', current: true });
    // The same failure seen again keeps its time.
    s.advance(2000);
    expect(s.builder.build().metastores[0]!.primary.endpoints[1]!.lastError!.at).toBe('2026-03-04T05:06:07.000Z');
    s.hmsB.failure = null;
    const cleared = s.builder.build().metastores[0]!.primary.endpoints[1]!;
    expect(cleared.healthy).toBe(true);
    expect(cleared.lastError).toMatchObject({ message: failure.message, current: false });
    // A new failure replaces it.
    s.advance(5000);
    s.hmsB.failure = new BackendError('connect_timeout', 'hms-b:9083', 'connect timed out', false);
    expect(s.builder.build().metastores[0]!.primary.endpoints[1]!.lastError).toEqual(
      { code: 'connect_timeout', message: 'connect timed out', at: '2026-03-04T05:06:14.000Z', current: true });
  });

  it('describes replicas: health, lag, MySQL, executed GTID, endpoints', () => {
    const rw = setup().builder.build().metastores[0]!;
    expect(rw.replicas).toEqual([{
      name: 'r1', healthy: true, reason: null, busy: 1, stalled: null,
      endpoints: [{ address: 'hms-ro:9083', healthy: true, lastError: null, pool: { borrowed: 0, available: 2, pending: 0, size: 2, identities: 1 }, breaker: { state: 'closed', since: '2024-01-01T00:00:00.000Z', reason: null } }],
      mysql: { address: 'db-replica:3306', healthy: true, error: null },
      lag: { transactions: 12, seconds: 3 },
      executedGtid: '0-1-88',
    }]);
    expect(rw.primary.mysql).toEqual({ address: 'db-primary:3306', healthy: true, error: null, lastReadAt: '2026-01-01T00:00:00.000Z' });
  });

  it('tells MySQL not checked yet from failing', () => {
    const s = setup();
    s.setRw({ primaryGtidReadAt: null, replicas: [replicaState({ mysqlError: 'not polled yet', healthy: false, reason: 'not polled yet' })] });
    let rw = s.builder.build().metastores[0]!;
    expect(rw.primary.mysql).toMatchObject({ healthy: null, error: null });
    expect(rw.replicas[0]!.mysql).toEqual({ address: 'db-replica:3306', healthy: null, error: null });
    const denied = "MySQL rw replica r1 (db-replica:3306): Access denied for user 'router'";
    s.setRw({ primaryGtidError: 'MySQL rw primary (db-primary:3306): connect ECONNREFUSED',
      replicas: [replicaState({ mysqlError: denied, healthy: false, reason: denied, transactionsBehind: null, secondsBehind: null })] });
    rw = s.builder.build().metastores[0]!;
    expect(rw.primary.mysql).toMatchObject({ healthy: false, error: 'MySQL rw primary (db-primary:3306): connect ECONNREFUSED' });
    expect(rw.replicas[0]).toMatchObject({ healthy: false, reason: denied, mysql: { healthy: false, error: denied }, lag: { transactions: null, seconds: null } });
  });

  it('never shows a MySQL user, password or the admin token', () => {
    const text = JSON.stringify(setup().builder.build());
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('token-4b8e0a5c');
    expect(text).not.toContain('"user"');
  });
});
