/**
 * Read/write split with GTID consistency on the real stack: the rw metastore on the MariaDB primary,
 * the ro metastore on its GTID replica. Reads go to the replica only when its MySQL has executed the
 * session's GTID; with the replica's SQL thread stopped, reads still see the session's own writes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { status, up } from '../../stack/stack';
import { stackLayout } from '../../stack/layout';
import { startReplicaSqlThread, stopReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { CuttingRelay } from '../support/cutting-relay';

const stack = status();
const primaryPort = stack.mysql.primary.port;
const replicaPort = stack.mysql.replica.port;

function splitConfig(mode: 'session' | 'client' | 'strict', extra: Record<string, unknown> = {}) {
  const s = status();
  return {
    metastores: {
      rw: {
        primary: {
          endpoints: [`127.0.0.1:${s.metastores.rw.port}`],
          mysql: { host: '127.0.0.1', port: s.mysql.primary.port, user: s.routerMysqlUser.user, password: s.routerMysqlUser.password },
        },
        replicas: [{
          name: 'r1',
          endpoints: [`127.0.0.1:${s.metastores.ro.port}`],
          mysql: { host: '127.0.0.1', port: s.mysql.replica.port, user: s.routerMysqlUser.user, password: s.routerMysqlUser.password },
        }],
        consistency: { mode, maxWaitMs: 300, pollIntervalMs: 200, ...extra },
        timeouts: { callMs: 10_000, retryBackoffMs: 500 },
      },
    },
  };
}

async function getDatabase(client: HmsTestClient, name: string): Promise<'found' | 'missing'> {
  const r = await client.call('get_database', args.name(name));
  if (r.result[0] !== undefined) return 'found';
  if (r.result[1] !== undefined) return 'missing';
  throw new Error(`get_database(${name}): ${JSON.stringify(r.result)}`);
}

const created: string[] = [];
function dbName(tag: string): string {
  const name = `consistency_${tag}_${Date.now()}`;
  created.push(name);
  return name;
}

afterAll(async () => {
  await startReplicaSqlThread(replicaPort);
  const c = await HmsTestClient.connect(status().metastores.rw.port);
  for (const name of created) await c.call('drop_database', args.dropDatabase(name));
  c.close();
});

describe('session mode', () => {
  let router: TestRouter;
  beforeAll(async () => { router = await startTestRouter(splitConfig('session')); });
  afterAll(async () => { await router.close(); });
  afterEach(async () => { await startReplicaSqlThread(replicaPort); });

  it('serves reads after a write from the caught-up replica', async () => {
    const client = await HmsTestClient.connect(router.port);
    const name = dbName('caughtup');
    await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    const before = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
    for (let i = 0; i < 10; i++) expect(await getDatabase(client, name)).toBe('found');
    // The replica applies within the wait bound, so every one of these reads is the replica's.
    expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' }) - before).toBe(10);
    expect(await router.metric('hms_router_calls_total', { method: 'create_database', role: 'primary' })).toBe(1);
    client.close();
  });

  it('never shows stale data while the replica SQL thread is stopped (same and new connection)', async () => {
    await stopReplicaSqlThread(replicaPort);
    const name = dbName('lagging');
    const writer = await HmsTestClient.connect(router.port);
    await writer.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    // The replica really is stale: its own metastore does not have the database.
    const ro = await HmsTestClient.connect(stack.metastores.ro.port);
    expect(await getDatabase(ro, name)).toBe('missing');
    ro.close();

    const lagging = await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_lagging' });
    expect(await getDatabase(writer, name)).toBe('found');
    const fresh = await HmsTestClient.connect(router.port);
    expect(await getDatabase(fresh, name)).toBe('found');
    expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_lagging' })).toBe(lagging + 2);

    // Reads that the replica's position covers still go to it (an older database).
    const old = created[0]!;
    const replicaReads = await router.metric('hms_router_calls_total', { role: 'replica' });
    const oldReader = await HmsTestClient.connect(router.port);
    // A new session's token is the primary's position, which includes the unapplied write: primary.
    expect(await getDatabase(oldReader, old)).toBe('found');
    expect(await router.metric('hms_router_calls_total', { role: 'replica' })).toBe(replicaReads);

    await startReplicaSqlThread(replicaPort);
    await waitForReplicaToCatchUp(primaryPort, replicaPort, 30);
    await new Promise((r) => setTimeout(r, 400));
    expect(await getDatabase(fresh, name)).toBe('found');
    expect(await router.metric('hms_router_calls_total', { role: 'replica' })).toBe(replicaReads + 1);
    for (const c of [writer, fresh, oldReader]) c.close();
  });

  it('a read waits for a replica that catches up within the bound', async () => {
    await stopReplicaSqlThread(replicaPort);
    const name = dbName('waits');
    const client = await HmsTestClient.connect(router.port);
    await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    const routerWithLongWait = await startTestRouter(splitConfig('session', { maxWaitMs: 5000 }));
    setTimeout(() => { void startReplicaSqlThread(replicaPort); }, 300);
    const other = await HmsTestClient.connect(routerWithLongWait.port);
    expect(await getDatabase(other, name)).toBe('found');
    expect(await routerWithLongWait.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(1);
    // The read waited (server-side wait on the replica) and was covered within the bound.
    expect(await routerWithLongWait.metric('hms_router_replica_wait_seconds_count', { outcome: 'covered' })).toBe(1);
    other.close();
    client.close();
    await routerWithLongWait.close();
  });
});

describe('strict mode and an unreachable primary MySQL', () => {
  it('strict: every read needs the primary GTID as of that read', async () => {
    const router = await startTestRouter(splitConfig('strict'));
    try {
      const client = await HmsTestClient.connect(router.port);
      const name = dbName('strict');
      await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      const queries = await router.metric('hms_router_primary_gtid_queries_total');
      for (let i = 0; i < 5; i++) expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_primary_gtid_queries_total') - queries).toBe(5);
      // A write by someone else (directly on the primary) is seen by the next strict read.
      await stopReplicaSqlThread(replicaPort);
      const other = dbName('strict_other');
      const direct = await HmsTestClient.connect(stack.metastores.rw.port);
      await direct.success('create_database', args.createDatabase(other, `${stack.warehouse}/${other}.db`));
      direct.close();
      expect(await getDatabase(client, other)).toBe('found');
      client.close();
    } finally {
      await startReplicaSqlThread(replicaPort);
      await router.close();
    }
  });

  it('primary MySQL unreachable: reads go to the primary metastore, no client error, reason counted', async () => {
    const config = splitConfig('session') as { metastores: { rw: { primary: { mysql: { port: number } } } } };
    config.metastores.rw.primary.mysql.port = 1; // nothing listens there
    const router = await startTestRouter(config);
    try {
      const client = await HmsTestClient.connect(router.port);
      const name = dbName('nogtid');
      await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'primary_gtid_unavailable' })).toBe(1);
      expect(await router.metric('hms_router_calls_total', { role: 'replica' })).toBe(0);
      client.close();
    } finally {
      await router.close();
    }
  });
});

describe('a replica whose MySQL dies while a read is in flight', () => {
  it('the read is answered by the primary at once, not after the replica HMS gives up', async () => {
    // The replica HMS is slow on cue (a relay holds its replies) and its MySQL (behind a plain relay)
    // goes away mid-call: a real replica HMS then waits out its JDBC retries (20 s in the soak run).
    const hms = await CuttingRelay.start(stack.metastores.ro.port);
    const mysql = await CuttingRelay.start(replicaPort);
    const config = splitConfig('session') as { metastores: { rw: { replicas: Array<{ endpoints: string[]; mysql: { port: number } }> } } };
    config.metastores.rw.replicas[0]!.endpoints = [`127.0.0.1:${hms.port}`];
    config.metastores.rw.replicas[0]!.mysql.port = mysql.port;
    const router = await startTestRouter(config);
    let restored: CuttingRelay | null = null;
    try {
      const client = await HmsTestClient.connect(router.port);
      const name = dbName('inflight');
      await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(1);

      hms.mode = 'hold-replies';
      const started = Date.now();
      const read = getDatabase(client, name);
      while (hms.heldReplies === 0) await new Promise((r) => setTimeout(r, 10));
      await mysql.close();
      expect(await read).toBe('found');
      // pollIntervalMs is 200: the poll after the MySQL went away ends the wait.
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'primary' })).toBe(1);
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_call_failed' })).toBe(1);

      // The replica's late reply is dropped; once its MySQL is back, reads use it again and are right.
      hms.release();
      restored = await CuttingRelay.start(replicaPort, mysql.port);
      const deadline = Date.now() + 5000;
      while (await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' }) < 2) {
        if (Date.now() > deadline) throw new Error('reads did not return to the replica');
        expect(await getDatabase(client, name)).toBe('found');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await getDatabase(client, `${name}_absent`)).toBe('missing');
      client.close();
    } finally {
      await router.close();
      await hms.close();
      await restored?.close();
    }
  });
});

/**
 * A router whose replica HMS sits behind a relay (the real ro metastore behind it), and a client
 * that created a database and read it once from that replica: what the replica-fault tests start from.
 */
async function routerWithRelayedReplica(tag: string, extra: Record<string, unknown> = {}) {
  const relay = await CuttingRelay.start(stack.metastores.ro.port);
  const config = splitConfig('session', extra) as { metastores: { rw: { replicas: Array<{ endpoints: string[] }> } } };
  config.metastores.rw.replicas[0]!.endpoints = [`127.0.0.1:${relay.port}`];
  const router = await startTestRouter(config);
  const client = await HmsTestClient.connect(router.port);
  const name = dbName(tag);
  await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
  expect(await getDatabase(client, name)).toBe('found');
  expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(1);
  return { relay, router, client, name };
}

describe('a replica HMS that is slow to answer while its MySQL is healthy', () => {
  it('the read is answered by the primary after replicaReadTimeoutMs, and reads return to the replica once it answers again', async () => {
    // What a replica HMS does just after its MariaDB came back: its MySQL answers the router's
    // polls, but the HMS retries on dead JDBC connections for ~20 s. Here a relay holds its replies.
    const { relay: hms, router, client, name } = await routerWithRelayedReplica('slowreplica', { replicaReadTimeoutMs: 800 });
    try {
      hms.mode = 'hold-replies';
      const started = Date.now();
      expect(await getDatabase(client, name)).toBe('found');
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(800);
      expect(waited).toBeLessThan(3000);
      expect(hms.heldReplies).toBe(1);
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'primary' })).toBe(1);
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_slow' })).toBe(1);

      // The router closed that connection at the deadline; the replica serves the next reads, and right.
      hms.release();
      expect(await getDatabase(client, name)).toBe('found');
      expect(await getDatabase(client, `${name}_absent`)).toBe('missing');
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBeGreaterThanOrEqual(2);
      client.close();
    } finally {
      await router.close();
      await hms.close();
    }
  });
});

describe('the primary MySQL probe', () => {
  it('the primary MySQL goes away and comes back: seen without any read, reads go to the primary at once, then back to the replica', async () => {
    const relay = await CuttingRelay.start(primaryPort); // a plain TCP relay in front of the real primary MariaDB
    const config = splitConfig('session', { queryTimeoutMs: 3000 }) as { metastores: { rw: { primary: { mysql: { port: number } } } } };
    config.metastores.rw.primary.mysql.port = relay.port;
    const router = await startTestRouter(config);
    const backends = async () => {
      const res = await fetch(`http://127.0.0.1:${router.adminPort}/backends`);
      const view = await res.json() as { metastores: Array<{ name: string; primary: { mysql: { healthy: boolean | null; error: string | null } } }> };
      return view.metastores.find((m) => m.name === 'rw')!.primary.mysql;
    };
    const until = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let restarted: CuttingRelay | null = null;
    try {
      const client = await HmsTestClient.connect(router.port);
      const name = dbName('primaryprobe');
      await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(1);
      await until('the probe has read the primary', async () => (await backends()).healthy === true);

      await relay.close();
      // No client call in between: the periodic probe alone finds the primary MySQL gone.
      await until('the primary MySQL shows as down', async () => (await backends()).healthy === false);
      expect((await backends()).error).toMatch(/ECONNREFUSED|closed|lost/i);
      expect(await router.metric('hms_router_primary_mysql_up', { metastore: 'rw' })).toBe(0);
      const started = Date.now();
      expect(await getDatabase(client, name)).toBe('found');
      // Known down: no token query, so no wait for queryTimeoutMs (3 s here).
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'primary_gtid_unavailable' })).toBe(1);

      restarted = await CuttingRelay.start(primaryPort, relay.port);
      await until('the primary MySQL shows as up again', async () => (await backends()).healthy === true);
      expect(await router.metric('hms_router_primary_mysql_up', { metastore: 'rw' })).toBe(1);
      expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(2);
      client.close();
    } finally {
      await router.close();
      await restarted?.close();
    }
  });
});

describe('client mode', () => {
  it('a write on one connection is seen by a read on a new connection of the same client', async () => {
    const router = await startTestRouter(splitConfig('client'));
    try {
      await stopReplicaSqlThread(replicaPort);
      const name = dbName('client');
      const writer = await HmsTestClient.connect(router.port);
      await writer.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
      writer.close();
      for (let i = 0; i < 3; i++) {
        const reader = await HmsTestClient.connect(router.port);
        expect(await getDatabase(reader, name)).toBe('found');
        reader.close();
      }
      await startReplicaSqlThread(replicaPort);
      await waitForReplicaToCatchUp(primaryPort, replicaPort, 30);
      // Caught up: new connections of the client read from the replica, reusing the client's token
      // (no primary GTID query per connection).
      const queries = await router.metric('hms_router_primary_gtid_queries_total');
      const replicaReads = await router.metric('hms_router_calls_total', { role: 'replica' });
      for (let i = 0; i < 10; i++) {
        const reader = await HmsTestClient.connect(router.port);
        expect(await getDatabase(reader, name)).toBe('found');
        reader.close();
      }
      expect(await router.metric('hms_router_calls_total', { role: 'replica' }) - replicaReads).toBe(10);
      expect(await router.metric('hms_router_primary_gtid_queries_total') - queries).toBeLessThanOrEqual(1);
    } finally {
      await startReplicaSqlThread(replicaPort);
      await router.close();
    }
  });
});

describe('a replica answering a declared exception it should not', () => {
  it('"no such object" from a replica whose MySQL connection broke: the client gets the primary\'s answer', async () => {
    // The replica's MySQL is real, healthy and caught up; its metastore sits behind a relay that
    // answers get_database the way Hive 3.1.3 did in the soak run while the replica's MariaDB restarted.
    const { relay, router, client, name } = await routerWithRelayedReplica('falsemissing');
    try {
      relay.mode = 'get-database-fails';
      for (let i = 0; i < 5; i++) expect(await getDatabase(client, name)).toBe('found');
      expect(relay.failedGetDatabase).toBe(5);
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_exception_reply' })).toBe(5);
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'primary' })).toBe(5);
      // A database that really is missing: the client gets the primary's own "no such object".
      const missing = await client.call('get_database', args.name(`${name}_absent`));
      const text = String((missing.result[1] as Record<number, unknown>)[1]);
      expect(text).toContain(`${name}_absent`);
      expect(text).not.toContain('Exception thrown when executing query');
      expect(relay.failedGetDatabase).toBe(6);

      relay.mode = 'pass';
      expect(await getDatabase(client, name)).toBe('found');
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' })).toBe(2);
      client.close();
    } finally {
      await router.close();
      await relay.close();
    }
  });
});

describe('replica faults under load', () => {
  /** Clients reading (and sometimes writing) for `ms`; returns the errors they saw. */
  async function load(port: number, ms: number, reads: string[], phase: string): Promise<{ calls: number; errors: string[] }> {
    const errors: string[] = [];
    let calls = 0;
    const deadline = Date.now() + ms;
    await Promise.all(Array.from({ length: 6 }, async (_, w) => {
      while (Date.now() < deadline) {
        const c = await HmsTestClient.connect(port);
        try {
          const name = reads[(calls + w) % reads.length]!;
          const found = await getDatabase(c, name);
          if (found !== 'found') errors.push(`${phase}: stale or missing: ${name}`);
        } catch (err) {
          errors.push(`${phase}: ${(err as Error).message}`);
        } finally {
          c.close();
          calls += 1;
        }
      }
    }));
    return { calls, errors };
  }

  it('replica HMS killed, then replica MySQL killed: zero client errors, reads move to the primary', async () => {
    const router = await startTestRouter(splitConfig('session'));
    const names = [dbName('load_a'), dbName('load_b')];
    const setup = await HmsTestClient.connect(router.port);
    for (const n of names) await setup.success('create_database', args.createDatabase(n, `${stack.warehouse}/${n}.db`));
    setup.close();
    await waitForReplicaToCatchUp(primaryPort, replicaPort, 30);
    try {
      const warm = await load(router.port, 1500, names, 'warm');
      expect(warm.errors).toEqual([]);
      expect(await router.metric('hms_router_calls_total', { role: 'replica' })).toBeGreaterThan(0);

      // Kill the replica's metastore in the middle of the load.
      const running = load(router.port, 4000, names, 'HMS killed');
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(status().metastores.ro.pid!, 'SIGKILL');
      const duringHmsKill = await running;
      expect(duringHmsKill.errors).toEqual([]);
      expect(duringHmsKill.calls).toBeGreaterThan(20);
      await up(stackLayout(stack.hiveVersion));

      // Now kill the replica's MariaDB.
      await new Promise((r) => setTimeout(r, 1000));
      const running2 = load(router.port, 4000, names, 'MySQL killed');
      await new Promise((r) => setTimeout(r, 1000));
      process.kill(status().mysql.replica.pid!, 'SIGKILL');
      const duringMysqlKill = await running2;
      expect(duringMysqlKill.errors).toEqual([]);
      expect(await router.metric('hms_router_read_fallbacks_total')).toBeGreaterThan(0);
    } finally {
      await up(stackLayout(stack.hiveVersion));
      await router.close();
    }
  });
});
