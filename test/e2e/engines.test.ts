/**
 * End to end with real engines: PrestoDB and Trino servers whose Hive catalog's
 * hive.metastore.uri is the router, in front of the local stack with read/write split (rw: primary
 * and its GTID replica, `client` consistency) and federation (fed_* on the fed metastore, archive_*
 * on a read-only metastore, one blocked database). Engines run one after another.
 *
 * Per engine: SHOW SCHEMAS lists both metastores; the scenario (scenario.ts) on a database of
 * each metastore with the replica's SQL thread stopped for the whole run (every statement must
 * succeed and see the engine's own writes), again with the replica applying (most rw reads must be
 * the replica's), then the refusals. The report goes to test/e2e/results/<engine>.json.
 *
 * `npm run test:e2e`; HMS_E2E_ENGINES=trino (or presto) runs one engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { status } from '../../stack/stack';
import { REPO_ROOT, metastoreDatabase } from '../../stack/layout';
import { runAsRoot } from '../../stack/mariadb';
import { startReplicaSqlThread, stopReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { installEngine, ENGINE_VERSIONS, type EngineInstall, type EngineName } from '../../stack/engines';
import { startEngine, type EngineServer } from '../../stack/engine-server';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, type TestRouter } from '../support/router-harness';
import { EngineSql } from '../support/engine-sql';
import { listingSteps, refusalSteps, tableSteps, type Step, type Target } from './scenario';
import { checkResult, measureCalls, stepResult, summaryText, writeReport, type EngineReport, type RunReport, type StepResult } from './report';

const stack = status();
const RESULTS_DIR = join(REPO_ROOT, 'test', 'e2e', 'results');
const ENGINES = (process.env.HMS_E2E_ENGINES ?? 'presto,trino').split(',').map((e) => e.trim()).map((e): EngineName => {
  if (e in ENGINE_VERSIONS) return e as EngineName;
  throw new Error(`HMS_E2E_ENGINES: unknown engine '${e}' (known: ${Object.keys(ENGINE_VERSIONS).join(', ')})`);
});
const BLOCK_REASON = 'moving to another metastore (e2e)';
const READ_ONLY_METASTORE = 'archive';
const log = (line: string) => process.stderr.write(`e2e: ${line}\n`);

function javaVersion(): string {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return (res.stderr ?? '').split('\n')[0]?.trim() ?? 'unknown';
}

function routerConfig(blockedDb: string) {
  const s = status();
  const mysql = (port: number) => ({ host: '127.0.0.1', port, user: s.routerMysqlUser.user, password: s.routerMysqlUser.password });
  return {
    log: { level: 'info' },
    metastores: {
      rw: {
        primary: { endpoints: [`127.0.0.1:${s.metastores.rw.port}`], mysql: mysql(s.mysql.primary.port) },
        replicas: [{ name: 'r1', endpoints: [`127.0.0.1:${s.metastores.ro.port}`], mysql: mysql(s.mysql.replica.port) }],
        // Engines open a connection per metastore call: `client` mode carries read-your-writes across them.
        consistency: { mode: 'client', maxWaitMs: 200 },
        // The metadata cache, as a deployment would run it: every step's answers must stay right.
        cache: { enabled: true, feed: { database: s.mysql.primary.database } },
      },
      fed: {
        primary: { endpoints: [`127.0.0.1:${s.metastores.fed.port}`] },
        cache: { enabled: true, feed: { database: s.mysql.federated.database, mysql: mysql(s.mysql.federated.port) } },
      },
      // The fed metastore once more, under a name whose databases are read-only.
      [READ_ONLY_METASTORE]: { primary: { endpoints: [`127.0.0.1:${s.metastores.fed.port}`] } },
    },
    defaultMetastore: 'rw',
    routing: {
      routes: [{ glob: 'fed_*', metastore: 'fed' }, { glob: 'archive_*', metastore: READ_ONLY_METASTORE }],
      blocked: [{ database: blockedDb, reason: BLOCK_REASON }],
      access: { [READ_ONLY_METASTORE]: { mode: 'read-only' } },
    },
  };
}

/** Database rows with this name in the metastore schema of the MariaDB server at `port`. */
async function dbRows(port: number, name: string): Promise<number> {
  const [rows] = (await runAsRoot(port, `SELECT NAME FROM ${metastoreDatabase(stack.hiveVersion)}.DBS WHERE NAME = '${name}'`)) as [unknown[]];
  return rows.length;
}

async function metastoreHas(port: number, name: string): Promise<boolean> {
  const c = await HmsTestClient.connect(port);
  try {
    return (await c.call('get_database', args.name(name))).result[0] !== undefined;
  } finally {
    c.close();
  }
}

describe.each(ENGINES)('%s through the router', (engineName) => {
  const stamp = Date.now();
  const db = (prefix: string) => `${prefix}${engineName}_${stamp}`;
  const markers: Record<Target, string> = { rw: db('e2e_marker_'), fed: db('fed_e2e_marker_') };
  const blockedDb = db('e2e_blocked_');
  const archive = { db: db('archive_e2e_'), newDb: db('archive_e2e_new_'), metastore: READ_ONLY_METASTORE };
  const created = new Set<string>();

  let install: EngineInstall | undefined;
  let router: TestRouter | undefined;
  let engine: EngineServer | undefined;
  let sql: EngineSql;
  const runs: Record<string, RunReport> = {};
  const timing: Record<string, unknown> = {};

  /** Runs steps in order, every one even after a failure (so the report is complete). */
  async function runSteps(steps: Step[], after?: (step: Step, result: StepResult) => Promise<StepResult[]>): Promise<StepResult[]> {
    const results: StepResult[] = [];
    for (const step of steps) {
      const result = stepResult(step, await sql.run(step.sql));
      results.push(result);
      log(`${engineName}: ${result.ok ? 'ok  ' : 'FAIL'} ${step.step} [${step.metastore ?? '-'}] ${result.ms} ms${result.problem ? `: ${result.problem}` : ''}`);
      if (after !== undefined) results.push(...await after(step, result));
    }
    return results;
  }

  /** After CREATE SCHEMA: the database row is in its metastore's MySQL only (and, lagging, not yet on the replica). */
  function placementChecks(lagging: boolean) {
    return async (step: Step, result: StepResult): Promise<StepResult[]> => {
      if (step.step !== 'create_schema' || !result.ok) return [];
      const name = step.sql.replace(/^CREATE SCHEMA hive\./, '');
      created.add(name);
      const onPrimary = await dbRows(stack.mysql.primary.port, name);
      const onFed = await dbRows(stack.mysql.federated.port, name);
      const want = step.metastore === 'fed' ? [0, 1] : [1, 0];
      const checks = [checkResult('placement', step.metastore, `database row on ${step.metastore}'s MySQL only`,
        onPrimary === want[0] && onFed === want[1] ? null : `rows: primary ${onPrimary}, federated ${onFed}`,
        { primaryMysql: onPrimary, federatedMysql: onFed })];
      if (lagging && step.metastore === 'rw') {
        const seen = await metastoreHas(stack.metastores.ro.port, name);
        checks.push(checkResult('replica_is_stale', 'rw', 'the replica\'s own metastore does not have the new database yet',
          seen ? 'the replica already has it: the run does not test read-your-writes' : null, { replicaHasDatabase: seen }));
      }
      return checks;
    };
  }

  async function scenario(runName: string, lagging: boolean): Promise<RunReport> {
    const dbs: Record<Target, string> = { rw: db(`e2e_${runName}_`), fed: db(`fed_e2e_${runName}_`) };
    const started = Date.now();
    const { value: steps, calls } = await measureCalls(router!, () => runSteps(
      [...listingSteps(markers), ...tableSteps('rw', dbs.rw), ...tableSteps('fed', dbs.fed)],
      placementChecks(lagging)));
    return { replicaSqlThread: lagging ? 'stopped' : 'running', ms: Date.now() - started, steps, calls };
  }

  let suiteStarted = 0;

  beforeAll(async () => {
    suiteStarted = Date.now();
    // A database of each metastore for SHOW SCHEMAS, and the read-only metastore's database.
    const rw = await HmsTestClient.connect(stack.metastores.rw.port);
    const fed = await HmsTestClient.connect(stack.metastores.fed.port);
    await rw.success('create_database', args.createDatabase(markers.rw, `${stack.warehouse}/${markers.rw}.db`));
    await fed.success('create_database', args.createDatabase(markers.fed, `${stack.warehouse}/${markers.fed}.db`));
    await fed.success('create_database', args.createDatabase(archive.db, `${stack.warehouse}/${archive.db}.db`));
    rw.close();
    fed.close();

    install = await installEngine(engineName, log);
    timing.install = install.timing;
    router = await startTestRouter(routerConfig(blockedDb));
    engine = await startEngine(install, { metastoreUri: `thrift://127.0.0.1:${router.port}`, workDir: join(REPO_ROOT, '.work', 'e2e', engineName) });
    timing.engineStartMs = engine.startMs;
    log(`${engineName} ${install.version} up at ${engine.url} in ${(engine.startMs / 1000).toFixed(1)} s; router on ${router.port}`);
    sql = new EngineSql(engine.url, install.headerPrefix);
  });

  afterAll(async () => {
    await startReplicaSqlThread(stack.mysql.replica.port);
    await engine?.stop();
    await router?.close();
    const rw = await HmsTestClient.connect(stack.metastores.rw.port);
    const fed = await HmsTestClient.connect(stack.metastores.fed.port);
    for (const name of [markers.rw, blockedDb, ...created]) await rw.call('drop_database', args.dropDatabase(name));
    for (const name of [markers.fed, archive.db, archive.newDb, ...created]) await fed.call('drop_database', args.dropDatabase(name));
    rw.close();
    fed.close();
    if (Object.keys(runs).length === 0) return;
    timing.engineTotalMs = Date.now() - suiteStarted;
    const report: EngineReport = {
      engine: engineName,
      version: install?.version ?? ENGINE_VERSIONS[engineName],
      java: javaVersion(),
      generatedAt: new Date().toISOString(),
      router: {
        consistency: 'client (rw: primary + replica r1, maxWaitMs 200); metadata cache on rw and fed (maxLagMs 1000)',
        routes: ['fed_* -> fed', `archive_* -> ${READ_ONLY_METASTORE} (the fed metastore, read-only)`, 'else -> rw'],
        blocked: blockedDb,
      },
      hiveCatalog: install?.hiveCatalog('thrift://127.0.0.1:<router port>') ?? {},
      timing,
      runs,
    };
    const file = writeReport(RESULTS_DIR, report);
    process.stdout.write(`\n${summaryText(report)}\n  report: ${file}\n`);
  });

  it('SHOW SCHEMAS lists the databases of both metastores', async () => {
    const [result] = await runSteps(listingSteps(markers));
    expect(result!.problem).toBeNull();
  });

  it('runs the scenario with the replica SQL thread stopped: every statement succeeds and sees its own writes', async () => {
    await stopReplicaSqlThread(stack.mysql.replica.port);
    let run: RunReport;
    try {
      run = await scenario('lagging', true);
    } finally {
      await startReplicaSqlThread(stack.mysql.replica.port);
    }
    runs.lagging = run;
    expect(run.steps.filter((s) => !s.ok).map((s) => `${s.step} [${s.metastore}]: ${s.problem}`)).toEqual([]);
    // The router did hold reads back from the stale replica: by waiting for it (replica_lagging)
    // until it saw the SQL thread stopped, then without waiting (replica_stalled).
    const heldBack = (run.calls.fallbacks['rw:replica_lagging'] ?? 0) + (run.calls.fallbacks['rw:replica_stalled'] ?? 0)
      + (run.calls.fallbacks['rw:replica_too_far_behind'] ?? 0);
    expect(heldBack, JSON.stringify(run.calls.fallbacks)).toBeGreaterThan(0);
    expect(run.calls.unknownMethods).toEqual({});
  });

  it('runs the scenario with the replica applying: metadata reads of rw go to the replica', async () => {
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port, 60);
    const run = await scenario('normal', false);
    runs.normal = run;
    expect(run.steps.filter((s) => !s.ok).map((s) => `${s.step} [${s.metastore}]: ${s.problem}`)).toEqual([]);
    // Every rw read goes to the replica first. Engines probe for partitions that do not exist yet
    // (get_partition before an insert): the replica's NoSuchObjectException is confirmed on the
    // primary, so those reads count as the primary's; the rest are served by the replica.
    expect(run.calls.rwReadsTriedOnReplica.share).toBeGreaterThan(0.9);
    expect(run.calls.rwReadsOtherThanMisses.share).toBeGreaterThan(0.9);
    // Engines repeat their reads (get_table several times per query): some are answered from memory.
    expect(run.calls.readsFromCache.cached).toBeGreaterThan(0);
    expect(run.calls.unknownMethods).toEqual({});
  });

  it('shows the router\'s reason for a blocked database and a read-only metastore', async () => {
    const started = Date.now();
    const { value: steps, calls } = await measureCalls(router!, () => runSteps(refusalSteps({ db: blockedDb, reason: BLOCK_REASON }, archive)));
    runs.refusals = { replicaSqlThread: 'running', ms: Date.now() - started, steps, calls };
    expect(steps.filter((s) => !s.ok).map((s) => `${s.step}: ${s.problem}`)).toEqual([]);
    // Nothing was written: the refusals came from the router, not from a metastore.
    expect(await dbRows(stack.mysql.federated.port, archive.newDb)).toBe(0);
    expect(calls.byMethod.filter((m) => m.refused > 0).map((m) => m.method).sort()).toEqual(expect.arrayContaining(['create_database', 'create_table']));
  });
});
