/**
 * Federation by database name on the real stack: the rw metastore (MariaDB primary) and the fed
 * metastore (an independent MariaDB) behind one router address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { createTableArgs } from '../support/hms-objects';
import { runAsRoot } from '../../stack/mariadb';
import { metastoreDatabase } from '../../stack/layout';
import { runJava } from '../support/java-tools';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { TType } from '../../src/thrift/protocol';

/** Databases the metastore schema on the MariaDB server at `port` holds with that name. */
async function dbRows(port: number, name: string): Promise<number> {
  const [rows] = (await runAsRoot(port, `SELECT NAME FROM ${metastoreDatabase(stack.hiveVersion)}.DBS WHERE NAME = '${name}'`)) as [unknown[]];
  return rows.length;
}

const stack = status();
const stamp = Date.now();
const FED_DB = `fed_sales_${stamp}`;
const RW_DB = `rw_web_${stamp}`;
const BLOCKED_DB = `fed_moving_${stamp}`;

describe('federation by database name', () => {
  let router: TestRouter;
  let rw: HmsTestClient;
  let fed: HmsTestClient;

  beforeAll(async () => {
    router = await startTestRouter({
      metastores: {
        rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } },
        fed: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
        archive: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
      },
      defaultMetastore: 'rw',
      routing: {
        routes: [{ glob: 'fed_*', metastore: 'fed' }, { database: 'archive_db', metastore: 'archive' }],
        blocked: [{ database: BLOCKED_DB, reason: 'moving to fed' }],
        access: { archive: { mode: 'read-only' } },
      },
    });
    rw = await HmsTestClient.connect(stack.metastores.rw.port);
    fed = await HmsTestClient.connect(stack.metastores.fed.port);
  });

  afterAll(async () => {
    await rw.call('drop_database', args.dropDatabase(RW_DB));
    await fed.call('drop_database', args.dropDatabase(FED_DB));
    rw.close();
    fed.close();
    await router.close();
  });

  it('creates each database on the metastore its name routes to', async () => {
    const client = await HmsTestClient.connect(router.port);
    await client.success('create_database', args.createDatabase(FED_DB, `${stack.warehouse}/fed/${FED_DB}.db`));
    await client.success('create_database', args.createDatabase(RW_DB, `${stack.warehouse}/${RW_DB}.db`));
    expect((await fed.call('get_database', args.name(FED_DB))).result[0]).toBeDefined();
    expect((await rw.call('get_database', args.name(FED_DB))).result[1]).toBeDefined(); // NoSuchObject on rw
    expect((await rw.call('get_database', args.name(RW_DB))).result[0]).toBeDefined();
    // Checked in MySQL itself: each database row is in the right server's metastore schema.
    expect(await dbRows(stack.mysql.federated.port, FED_DB)).toBe(1);
    expect(await dbRows(stack.mysql.primary.port, FED_DB)).toBe(0);
    expect(await dbRows(stack.mysql.primary.port, RW_DB)).toBe(1);
    expect(await dbRows(stack.mysql.federated.port, RW_DB)).toBe(0);
    // Reads follow the same routes.
    expect((await client.call('get_database', args.name(FED_DB))).result[0]).toBeDefined();
    client.close();
  });

  it('lists databases of both metastores, each once, from the metastore it routes to', async () => {
    const client = await HmsTestClient.connect(router.port);
    const all = (await client.success('get_all_databases')) as string[];
    expect(all).toContain(FED_DB);
    expect(all).toContain(RW_DB);
    // 'default' exists on both metastores but routes to rw: listed once.
    expect(all.filter((d) => d === 'default')).toHaveLength(1);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual(all);
    client.close();
  });

  it('Hive\'s Java client lists the databases of both metastores', async () => {
    const run = await runJava('ListDatabases.java', ['--uri', `thrift://127.0.0.1:${router.port}`]);
    expect(run.code, run.stderr).toBe(0);
    const names = run.stdout.split('\n').filter((l) => l !== '');
    expect(names).toContain(FED_DB);
    expect(names).toContain(RW_DB);
    expect(names.filter((n) => n === 'default')).toHaveLength(1);
  });

  it('get_table_meta fans out and keeps each table from the metastore that owns its database', async () => {
    const client = await HmsTestClient.connect(router.port);
    const spec = (db: string) => ({ db, table: 'meta_probe', location: `${stack.warehouse}/${db}.db/meta_probe`, columns: [['a', 'int']] as Array<[string, string]>, partitionKeys: [] });
    await client.success('create_table', createTableArgs(spec(FED_DB)));
    await client.call('create_table', createTableArgs(spec(RW_DB)));
    // get_table_meta(1: db_patterns, 2: tbl_patterns, 3: list<string> tbl_types)
    const metas = (await client.success('get_table_meta', (w) => {
      w.fieldBegin(TType.STRING, 1).string(`*_${stamp}`).fieldBegin(TType.STRING, 2).string('meta_probe')
        .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, 0);
    })) as Array<Record<number, string>>;
    expect(metas.map((m) => `${m[1]}.${m[2]}`).sort()).toEqual([`${FED_DB}.meta_probe`, `${RW_DB}.meta_probe`].sort());
    client.close();
  });

  it('refuses every call naming a blocked database with a clear MetaException', async () => {
    const client = await HmsTestClient.connect(router.port);
    const r = await client.call('get_database', args.name(BLOCKED_DB));
    expect(r.result[2]).toEqual({ 1: `hms-router: database ${BLOCKED_DB} is blocked for maintenance: moving to fed` });
    client.close();
  });

  it('refuses writes on a read-only metastore, naming it', async () => {
    const client = await HmsTestClient.connect(router.port);
    const r = await client.call('create_table', createTableArgs({
      db: 'archive_db', table: 't', location: `${stack.warehouse}/archive_db.db/t`, columns: [['a', 'int']], partitionKeys: [],
    }));
    expect(r.result[3]).toEqual({ 1: 'hms-router: create_table refused: metastore archive is read-only' });
    client.close();
  });

  it('refuses a rename across metastores with a clear error', async () => {
    const client = await HmsTestClient.connect(router.port);
    const spec = { db: RW_DB, table: 'events', location: `${stack.warehouse}/${RW_DB}.db/events`, columns: [['a', 'int']] as Array<[string, string]>, partitionKeys: [] };
    await client.success('create_table', createTableArgs(spec));
    // alter_table(1: db, 2: table, 3: new Table) whose new dbName routes to fed.
    const moved = new BinaryWriter();
    createTableArgs({ ...spec, db: FED_DB })(moved);
    const body = moved.fieldStop().finish().subarray(3); // the Table struct without its field header
    const r = await client.call('alter_table', (w) => {
      w.fieldBegin(TType.STRING, 1).string(RW_DB).fieldBegin(TType.STRING, 2).string('events')
        .fieldBegin(TType.STRUCT, 3).raw(body.subarray(0, body.length - 1));
    });
    expect(r.result[2]).toEqual({ 1: `hms-router: alter_table spans databases on metastores 'rw' and 'fed' (${RW_DB} and ${FED_DB}); split it into calls per metastore` });
    client.close();
  });

  it('Hive\'s Java client works through the federation exactly as directly against each metastore', async () => {
    for (const [db, direct] of [[`fed_probe_${stamp}`, stack.metastores.fed.uri], [`rw_probe_${stamp}`, stack.metastores.rw.uri]] as const) {
      const viaDirect = await runJava('HmsProbe.java', ['--uri', direct, '--db', db, '--partitions', '200']);
      expect(viaDirect.code, viaDirect.stderr).toBe(0);
      const viaRouter = await runJava('HmsProbe.java', ['--uri', `thrift://127.0.0.1:${router.port}`, '--db', db, '--partitions', '200']);
      expect(viaRouter.code, viaRouter.stderr).toBe(0);
      expect(viaRouter.stdout).toBe(viaDirect.stdout);
      const steps = (JSON.parse(viaRouter.stdout) as { steps: Array<{ step: string; ok: boolean }> }).steps;
      expect(steps.filter((s) => !s.ok).map((s) => s.step)).toEqual(['get_table_after_drop']);
    }
  });

  it('a down metastore makes the listing fail naming it, rather than dropping its databases', async () => {
    const broken = await startTestRouter({
      metastores: {
        rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } },
        fed: { primary: { endpoints: ['127.0.0.1:1'] }, pool: { minIdle: 0 } },
      },
      defaultMetastore: 'rw',
      routing: { routes: [{ glob: 'fed_*', metastore: 'fed' }] },
    });
    const client = await HmsTestClient.connect(broken.port);
    const r = await client.call('get_all_databases');
    expect(String((r.result[1] as Record<number, unknown>)[1])).toMatch(/metastore 'fed' failed during get_all_databases: cannot connect to metastore 127.0.0.1:1/);
    client.close();
    await broken.close();
  });

  it('with fanOut: partial, a down metastore is left out and counted', async () => {
    const partial = await startTestRouter({
      metastores: {
        rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } },
        fed: { primary: { endpoints: ['127.0.0.1:1'] }, pool: { minIdle: 0 } },
      },
      defaultMetastore: 'rw',
      routing: { routes: [{ glob: 'fed_*', metastore: 'fed' }], fanOut: 'partial' },
    });
    const client = await HmsTestClient.connect(partial.port);
    const all = (await client.success('get_all_databases')) as string[];
    expect(all).toContain(RW_DB);
    expect(all).not.toContain(FED_DB);
    expect(await partial.metric('hms_router_fanout_partial_total', { metastore: 'fed', method: 'get_all_databases' })).toBe(1);
    client.close();
    await partial.close();
  });
});
