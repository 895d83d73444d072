/**
 * A replica that stops applying must not cost every read the whole wait (issue #18), on the real
 * stack: the rw metastore on the MariaDB primary, the ro metastore on its GTID replica.
 * - SQL thread stopped for long: reads it does not cover go to the primary without waiting
 *   (replica_stalled), and wait for it again once it runs.
 * - SQL thread running but blocked (a row lock on the replica holds the replicated write, as a long
 *   DDL would): the same, from "behind without progress".
 * - A replica applying slowly (each write held a few hundred ms on it): reads still wait and are
 *   served by it.
 * Every read checks the client's own write: 0 stale throughout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { status } from '../../stack/stack';
import { rootConnection } from '../../stack/mariadb';
import { startReplicaSqlThread, stopReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';

const stack = status();
const primaryPort = stack.mysql.primary.port;
const replicaPort = stack.mysql.replica.port;
// maxWaitMs 1000 so that "no wait" (well under it) and "waited" are far apart; stalled after 2 s.
const MAX_WAIT_MS = 1000;

function config() {
  const u = stack.routerMysqlUser;
  return {
    metastores: {
      rw: {
        primary: {
          endpoints: [`127.0.0.1:${stack.metastores.rw.port}`],
          mysql: { host: '127.0.0.1', port: primaryPort, user: u.user, password: u.password },
        },
        replicas: [{
          name: 'r1',
          endpoints: [`127.0.0.1:${stack.metastores.ro.port}`],
          mysql: { host: '127.0.0.1', port: replicaPort, user: u.user, password: u.password },
        }],
        consistency: { mode: 'session', maxWaitMs: MAX_WAIT_MS, pollIntervalMs: 200 },
        timeouts: { callMs: 10_000, retryBackoffMs: 500 },
      },
    },
  };
}

const created: string[] = [];
function dbName(tag: string): string {
  const name = `stall_${tag}_${Date.now()}_${created.length}`;
  created.push(name);
  return name;
}

async function getDatabase(client: HmsTestClient, name: string): Promise<'found' | 'missing'> {
  const r = await client.call('get_database', args.name(name));
  if (r.result[0] !== undefined) return 'found';
  if (r.result[1] !== undefined) return 'missing';
  throw new Error(`get_database(${name}): ${JSON.stringify(r.result)}`);
}

let router: TestRouter;

async function replicaView(): Promise<{ stalled: string | null; healthy: boolean }> {
  const res = await fetch(`http://127.0.0.1:${router.adminPort}/backends`);
  const view = await res.json() as { metastores: Array<{ name: string; replicas: Array<{ stalled: string | null; healthy: boolean }> }> };
  return view.metastores.find((m) => m.name === 'rw')!.replicas[0]!;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

/** A write then a read of it on one connection (a session that reads its own write): who served it, and how long the read took. */
async function writeThenRead(client: HmsTestClient, tag: string): Promise<{ ms: number; role: 'replica' | 'primary' }> {
  const name = dbName(tag);
  await client.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
  const replicaBefore = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
  const started = performance.now();
  expect(await getDatabase(client, name)).toBe('found'); // never stale
  const ms = performance.now() - started;
  const replicaAfter = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
  return { ms, role: replicaAfter > replicaBefore ? 'replica' : 'primary' };
}

/** A root session on the replica holding every row (and gap) of DBS: the replicated create_database waits on it. */
async function lockDbsOnReplica(): Promise<{ release(): Promise<void> }> {
  const conn: Connection = await rootConnection(replicaPort);
  await conn.query('BEGIN');
  await conn.query(`SELECT DB_ID FROM \`${stack.mysql.replica.database}\`.DBS FOR UPDATE`);
  return { release: async () => { await conn.query('COMMIT'); await conn.end(); } };
}

beforeAll(async () => {
  await startReplicaSqlThread(replicaPort);
  router = await startTestRouter(config());
});

afterEach(async () => {
  await startReplicaSqlThread(replicaPort);
  await waitForReplicaToCatchUp(primaryPort, replicaPort, 60);
});

afterAll(async () => {
  await startReplicaSqlThread(replicaPort);
  await router.close();
  const c = await HmsTestClient.connect(stack.metastores.rw.port);
  for (const name of created) await c.call('drop_database', args.dropDatabase(name));
  c.close();
});

describe('a replica whose SQL thread is stopped for long', () => {
  it('reads after writes go to the primary without waiting; once it runs again they wait for it and it serves them', async () => {
    const client = await HmsTestClient.connect(router.port);
    // Applying: the read waits for the replica (a few ms) and the replica serves it.
    expect((await writeThenRead(client, 'before')).role).toBe('replica');
    const earlyName = created.at(-1)!;
    const earlyReader = await HmsTestClient.connect(router.port);
    expect(await getDatabase(earlyReader, earlyName)).toBe('found');

    await stopReplicaSqlThread(replicaPort);
    const stopped = Date.now();
    // The first reads still wait (a stop shorter than 2 s costs what it cost before)...
    const first = await writeThenRead(client, 'onset');
    expect(first.role).toBe('primary');
    expect(first.ms).toBeGreaterThanOrEqual(MAX_WAIT_MS - 50);
    // ... until the polls have seen it not applying for 2 s.
    await until('the replica shows as stalled', async () => (await replicaView()).stalled !== null);
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(2000);
    expect((await replicaView()).stalled).toMatch(/SQL thread is not running/);
    expect((await replicaView()).healthy).toBe(true);
    expect(await router.metric('hms_router_replica_stalled', { replica: 'r1' })).toBe(1);

    const earlyReplicaReads = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
    const waitsBefore = await router.metric('hms_router_replica_wait_seconds_count');
    const stalledBefore = await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_stalled' });
    const reads = [];
    for (let i = 0; i < 10; i++) reads.push(await writeThenRead(client, 'stalled'));
    for (const r of reads) {
      expect(r.role).toBe('primary');
      expect(r.ms).toBeLessThan(MAX_WAIT_MS / 3);
    }
    expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_stalled' }) - stalledBefore).toBe(10);
    // No read waited on the replica.
    expect(await router.metric('hms_router_replica_wait_seconds_count') - waitsBefore).toBe(0);

    // A session whose token the stalled replica covers (it last read before the stop) still reads there.
    expect(await getDatabase(earlyReader, earlyName)).toBe('found');
    expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' }) - earlyReplicaReads).toBe(1);

    await startReplicaSqlThread(replicaPort);
    const back = await until('the replica applies again', async () => (await replicaView()).stalled === null);
    // Polled every half wait while stalled: seen within a few polls.
    expect(back).toBeLessThan(1500);
    expect(await router.metric('hms_router_replica_stalled', { replica: 'r1' })).toBe(0);
    const after = await writeThenRead(client, 'after');
    expect(after.role).toBe('replica');
    client.close();
    earlyReader.close();
  });
});

describe('a replica whose SQL thread runs but is blocked (a lock, a long DDL)', () => {
  it('behind without progress for 2 s: stalled, reads go to the primary at once; released: back to the replica', async () => {
    const client = await HmsTestClient.connect(router.port);
    const lock = await lockDbsOnReplica();
    try {
      const first = await writeThenRead(client, 'blocked_onset');
      expect(first.role).toBe('primary');
      await until('the replica shows as stalled', async () => (await replicaView()).stalled !== null);
      expect((await replicaView()).stalled).toMatch(/behind the primary and its executed GTID has not advanced/);
      const stalledBefore = await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_stalled' });
      for (let i = 0; i < 5; i++) {
        const r = await writeThenRead(client, 'blocked');
        expect(r.role).toBe('primary');
        expect(r.ms).toBeLessThan(MAX_WAIT_MS / 3);
      }
      expect(await router.metric('hms_router_read_fallbacks_total', { reason: 'replica_stalled' }) - stalledBefore).toBe(5);
    } finally {
      await lock.release();
    }
    await until('the replica applies again', async () => (await replicaView()).stalled === null, 5000);
    expect((await writeThenRead(client, 'unblocked')).role).toBe('replica');
    client.close();
  });
});

describe('a replica applying slowly', () => {
  it('a few transactions behind, each held ~400 ms on the replica: reads wait, the replica serves them, never stalled', async () => {
    const client = await HmsTestClient.connect(router.port);
    const fallbacksBefore = await router.metric('hms_router_read_fallbacks_total');
    for (let round = 0; round < 4; round++) {
      const lock = await lockDbsOnReplica();
      // Three writes the replica cannot apply yet: it is three transactions (and more) behind.
      const names = [dbName('slow'), dbName('slow'), dbName('slow')];
      for (const n of names) await client.success('create_database', args.createDatabase(n, `${stack.warehouse}/${n}.db`));
      const releasing = new Promise((r) => setTimeout(r, 400)).then(() => lock.release());
      const replicaBefore = await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' });
      const started = performance.now();
      for (const n of names) expect(await getDatabase(client, n)).toBe('found');
      const ms = performance.now() - started;
      await releasing;
      expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'replica' }) - replicaBefore).toBe(3);
      expect(ms).toBeGreaterThanOrEqual(300); // it did wait for the replica
      expect((await replicaView()).stalled).toBeNull();
    }
    expect(await router.metric('hms_router_read_fallbacks_total') - fallbacksBefore).toBe(0);
    client.close();
  });
});
