/**
 * The metadata cache on the real stack: hot reads answered from memory with the metastore's own
 * bytes, changes made straight on the metastore (bypassing the router) seen within maxLagMs, a
 * rename, the fan-out of get_all_databases over two cached metastores, the feed cut off, a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { HmsTestClient, args } from '../support/hms-test-client';
import { addPartitionsArgs, alterTableArgs, createTableArgs, dbTableArgs, partitionName, partitionNamesArgs, partitionsByNamesArgs, TableSpec } from '../support/hms-objects';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { CuttingRelay } from '../support/cutting-relay';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { parseMessageHeader, TType } from '../../src/thrift/protocol';
import { writeFileSync } from 'node:fs';

const stack = status();
// The default: wide enough that a loaded machine (CI) keeps the feed within it; the tests measure against it.
const MAX_LAG_MS = 1000;
const POLL_MS = 50;
const tag = Date.now();
const db = `cache_it_${tag}`;
const fedDb = `fed_cache_it_${tag}`;
const COLUMNS: Array<[string, string]> = [['id', 'bigint'], ['name', 'string']];
const events: TableSpec = { db, table: 'events', location: `${stack.warehouse}/${db}.db/events`, columns: COLUMNS, partitionKeys: [['day', 'string']] };
const plain: TableSpec = { db, table: 'plain', location: `${stack.warehouse}/${db}.db/plain`, columns: COLUMNS, partitionKeys: [] };
const DAYS = ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04'];

const mysqlOf = (port: number) => ({ host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password });

function cachedMetastore(port: number, mysqlPort: number, feedMysql?: ReturnType<typeof mysqlOf>) {
  return {
    primary: { endpoints: [`127.0.0.1:${port}`], mysql: mysqlOf(mysqlPort) },
    cache: { enabled: true, maxLagMs: MAX_LAG_MS, feed: { database: stack.mysql.primary.database, pollIntervalMs: POLL_MS, ...(feedMysql ? { mysql: feedMysql } : {}) } },
    timeouts: { callMs: 10_000 },
  };
}

/** The reply with its seqid zeroed: replies to the same call compare equal whatever seqid each carried. */
function withoutSeqid(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeInt32BE(0, parseMessageHeader(copy, 0, copy.length)!.seqidOffset);
  return copy;
}

let router: TestRouter;
let relay: CuttingRelay;
let direct: HmsTestClient;
let fedDirect: HmsTestClient;

beforeAll(async () => {
  direct = await HmsTestClient.connect(stack.metastores.rw.port);
  fedDirect = await HmsTestClient.connect(stack.metastores.fed.port);
  await direct.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
  await direct.success('create_table', createTableArgs(events));
  await direct.success('create_table', createTableArgs(plain));
  await direct.success('add_partitions', addPartitionsArgs(events, DAYS.map((d) => [d])));
  // The rw metastore's feed reads its MySQL through a relay the tests can cut.
  relay = await CuttingRelay.start(stack.mysql.primary.port);
  router = await startTestRouter({
    log: { level: 'info' },
    metastores: {
      rw: cachedMetastore(stack.metastores.rw.port, stack.mysql.primary.port, mysqlOf(relay.port)),
      fed: cachedMetastore(stack.metastores.fed.port, stack.mysql.federated.port),
    },
    routing: { routes: [{ glob: 'fed_*', metastore: 'fed' }] },
  });
}, 60_000);

afterAll(async () => {
  await router?.close();
  await relay?.close();
  await direct?.call('drop_database', (w) => { args.dropDatabase(db)(w); });
  await fedDirect?.call('drop_database', (w) => { args.dropDatabase(fedDb)(w); });
  direct?.close();
  fedDirect?.close();
});

const hits = (method?: string) => router.metric('hms_router_cache_hits_total', method === undefined ? {} : { method });

async function waitFor(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hot reads', () => {
  it('the second of the same reads is answered from memory, byte for byte what the metastore sends', async () => {
    const c = await HmsTestClient.connect(router.port);
    const calls: Array<[string, (w: BinaryWriter) => void]> = [
      ['get_table', dbTableArgs(db, 'events')],
      ['get_table', dbTableArgs(db.toUpperCase(), 'EVENTS')],
      ['get_database', args.name(db)],
      ['get_partition_names', partitionNamesArgs(db, 'events')],
      ['get_partitions_by_names', partitionsByNamesArgs(db, 'events', [partitionName(events, [DAYS[1]!]), partitionName(events, [DAYS[0]!])])],
      ['get_tables', (w) => { w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string('*'); }],
      ['get_all_tables', args.name(db)],
    ];
    for (const [method, write] of calls) {
      const first = await c.raw(method, write);
      const before = await hits(method);
      const second = await c.raw(method, write);
      expect(await hits(method), `${method} answered from the cache`).toBe(before + 1);
      const fromMetastore = await direct.raw(method, write);
      expect(withoutSeqid(second.bytes).equals(withoutSeqid(fromMetastore.bytes)), `${method}: cached bytes are the metastore's`).toBe(true);
      expect(withoutSeqid(first.bytes).equals(withoutSeqid(fromMetastore.bytes))).toBe(true);
      expect(second.header.seqid).not.toBe(first.header.seqid);
    }
    c.close();
  });

  it('get_partitions_by_names: a list whose names other lists fetched is answered from their entries', async () => {
    const c = await HmsTestClient.connect(router.port);
    const name = (i: number) => partitionName(events, [DAYS[i]!]);
    await c.raw('get_partitions_by_names', partitionsByNamesArgs(db, 'events', [name(2), name(3)]));
    const before = await hits('get_partitions_by_names');
    // Names 0 and 1 came in the previous test's list; 3 in this one; day 9 does not exist.
    const mixed = partitionsByNamesArgs(db, 'events', [name(3), name(0), 'day=2026-01-09', name(0)]);
    await c.raw('get_partitions_by_names', mixed); // day=2026-01-09 is not known yet: a miss that fills it
    const answer = await c.raw('get_partitions_by_names', mixed);
    expect(await hits('get_partitions_by_names')).toBe(before + 1);
    const fromMetastore = await direct.raw('get_partitions_by_names', mixed);
    expect(withoutSeqid(answer.bytes).equals(withoutSeqid(fromMetastore.bytes))).toBe(true);
    c.close();
  });
});

describe('changes the router did not make', () => {
  it('an alter straight on the metastore is seen within maxLagMs, then cached again', async () => {
    const c = await HmsTestClient.connect(router.port);
    await c.raw('get_table', dbTableArgs(db, 'plain'));
    await c.raw('get_table', dbTableArgs(db, 'plain'));
    await direct.success('alter_table', alterTableArgs({ ...plain, parameters: { version: 'two' } }));
    const acknowledged = Date.now();
    let seenAfter = -1;
    await waitFor('the new parameter through the router', async () => {
      const t = await c.success('get_table', dbTableArgs(db, 'plain')) as Record<number, unknown>;
      const version = new Map(t[9] as Array<[string, string]>).get('version');
      if (version === 'two') seenAfter = Date.now() - acknowledged;
      return version === 'two';
    });
    // The feed reads every POLL_MS; an answer from memory is never older than MAX_LAG_MS behind it.
    expect(seenAfter).toBeLessThanOrEqual(MAX_LAG_MS + POLL_MS + 500);
    const before = await hits('get_table');
    await c.raw('get_table', dbTableArgs(db, 'plain'));
    await waitFor('a hit again', async () => (await c.raw('get_table', dbTableArgs(db, 'plain')), (await hits('get_table')) > before));
    c.close();
  });

  it('a rename straight on the metastore: the old name is no longer answered', async () => {
    const c = await HmsTestClient.connect(router.port);
    const spec: TableSpec = { ...plain, table: 'to_rename', location: `${stack.warehouse}/${db}.db/to_rename` };
    await direct.success('create_table', createTableArgs(spec));
    await waitFor('the table through the router', async () => (await c.call('get_table', dbTableArgs(db, 'to_rename'))).result[0] !== undefined);
    await c.raw('get_table', dbTableArgs(db, 'to_rename'));
    await c.raw('get_table', dbTableArgs(db, 'plain'));
    await direct.success('alter_table', (w) => {
      w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string('to_rename');
      const t = new BinaryWriter();
      createTableArgs({ ...spec, table: 'renamed' })(t);
      const bytes = t.finish();
      bytes.writeInt16BE(3, 1); // alter_table's Table is argument 3
      w.raw(bytes);
    });
    await new Promise((r) => setTimeout(r, MAX_LAG_MS + POLL_MS + 100));
    const old = await c.call('get_table', dbTableArgs(db, 'to_rename'));
    expect(old.result[0]).toBeUndefined();
    expect(old.result[2]).toBeDefined(); // NoSuchObjectException
    // The event named the old table: other tables' entries stayed.
    const before = await hits('get_table');
    await c.raw('get_table', dbTableArgs(db, 'plain'));
    expect(await hits('get_table')).toBe(before + 1);
    c.close();
  });

  it('get_all_databases over two cached metastores: a database created straight on one is listed within maxLagMs', async () => {
    const c = await HmsTestClient.connect(router.port);
    await c.raw('get_all_databases');
    const before = await hits('get_all_databases');
    await c.raw('get_all_databases');
    // Each metastore's part came from its own cache.
    expect(await hits('get_all_databases')).toBe(before + 2);
    await fedDirect.success('create_database', args.createDatabase(fedDb, `${stack.warehouse}/${fedDb}.db`));
    await new Promise((r) => setTimeout(r, MAX_LAG_MS + POLL_MS + 100));
    const listed = await c.success('get_all_databases') as string[];
    expect(listed).toContain(fedDb);
    expect(listed).toContain(db);
    c.close();
  });
});

describe('faults and settings', () => {
  it('the feed cut off: the cache stops answering at once (feed_failing), reads stay right, hits come back after', async () => {
    const c = await HmsTestClient.connect(router.port);
    await c.raw('get_table', dbTableArgs(db, 'events'));
    relay.mode = 'cut-replies';
    await waitFor('the feed failing', async () => (await router.metric('hms_router_cache_bypasses_total', { reason: 'feed_failing' })) > 0
      || (await router.metric('hms_router_cache_bypasses_total', { reason: 'feed_lagging' })) > 0
      ? true : (await c.raw('get_table', dbTableArgs(db, 'events')), false));
    // While it is cut, a change straight on the metastore is answered by the metastore, not from memory.
    await direct.success('alter_table', alterTableArgs({ ...events, parameters: { during: 'cut' } }));
    const hitsCut = await hits();
    const t = await c.success('get_table', dbTableArgs(db, 'events')) as Record<number, unknown>;
    expect(JSON.stringify(t[9])).toContain('during');
    expect(await hits()).toBe(hitsCut);
    relay.mode = 'pass';
    await waitFor('hits again', async () => {
      await c.raw('get_table', dbTableArgs(db, 'events'));
      return (await hits()) > hitsCut;
    }, 10_000);
    const again = await c.success('get_table', dbTableArgs(db, 'events')) as Record<number, unknown>;
    expect(JSON.stringify(again[9])).toContain('during');
    expect(await router.metric('hms_router_cache_feed_errors_total', { metastore: 'rw' })).toBeGreaterThan(0);
    c.close();
  });

  it('/backends shows each metastore\'s cache and feed', async () => {
    const res = await fetch(`http://127.0.0.1:${router.adminPort}/backends`);
    const view = await res.json() as { metastores: Array<{ name: string; cache: { enabled: boolean; entries: number; hits: number; feed: { state: string; database: string } } | null }> };
    const rw = view.metastores.find((m) => m.name === 'rw')!;
    expect(rw.cache).toMatchObject({ enabled: true, feed: { state: 'ok', database: stack.mysql.primary.database } });
    expect(rw.cache!.entries).toBeGreaterThan(0);
    expect(rw.cache!.hits).toBeGreaterThan(0);
  });

  it('a reload that disables the cache stops hits; one that changes the feed is refused, naming why', async () => {
    const c = await HmsTestClient.connect(router.port);
    const doc = JSON.parse(JSON.stringify({ ...router.config, metastores: undefined })) as Record<string, unknown>;
    const metastores = {
      rw: { ...cachedMetastore(stack.metastores.rw.port, stack.mysql.primary.port, mysqlOf(relay.port)) },
      fed: cachedMetastore(stack.metastores.fed.port, stack.mysql.federated.port),
    };
    const write = (m: unknown) => writeFileSync(router.configPath, JSON.stringify({ ...doc, metastores: m, routing: { routes: [{ glob: 'fed_*', metastore: 'fed' }] } }));
    write({ ...metastores, rw: { ...metastores.rw, cache: { ...metastores.rw.cache, feed: { ...metastores.rw.cache.feed, pollIntervalMs: 999 } } } });
    const refused = router.reloadRouting('admin');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.problems.join('\n')).toMatch(/cache\.feed: the change feed's settings take effect at restart only/);
    write({ ...metastores, rw: { ...metastores.rw, cache: { ...metastores.rw.cache, enabled: false } } });
    expect(router.reloadRouting('admin')).toMatchObject({ ok: true, changed: true });
    const before = await hits();
    await c.raw('get_table', dbTableArgs(db, 'events'));
    await c.raw('get_table', dbTableArgs(db, 'events'));
    expect(await hits()).toBe(before);
    write(metastores);
    expect(router.reloadRouting('admin')).toMatchObject({ ok: true, changed: true });
    await c.raw('get_table', dbTableArgs(db, 'events'));
    await c.raw('get_table', dbTableArgs(db, 'events'));
    expect(await hits()).toBeGreaterThan(before);
    c.close();
  });
});
