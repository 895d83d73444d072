/**
 * End to end under Kerberos: PrestoDB and Trino servers whose Hive catalog signs in to the router
 * with Kerberos (hive.metastore.authentication.type=KERBEROS, each engine's own service principal
 * and keytab), the router signing in to the kerberized metastores of the stack (rwKrb on the
 * MariaDB primary, roKrb on its replica, `client` consistency). The table scenario runs with the
 * replica's SQL thread stopped (every statement must see the engine's own writes), then with it
 * applying; the metastore must record the engine's principal, not the router's.
 *
 * Part of `npm run test:e2e`; HMS_E2E_ENGINES=trino (or presto) runs one engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { auditUsers as auditLogUsers } from '../support/metastore-audit';
import { status } from '../../stack/stack';
import { REPO_ROOT } from '../../stack/layout';
import { kerberosJvmFlags } from '../../stack/hive';
import { startReplicaSqlThread, stopReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { installEngine, ENGINE_VERSIONS, type EngineName } from '../../stack/engines';
import { startEngine, type EngineServer } from '../../stack/engine-server';
import { startTestRouter, type TestRouter } from '../support/router-harness';
import { EngineSql } from '../support/engine-sql';
import { tableSteps, type Step } from './scenario';
import { stepResult, type StepResult } from './report';

const stack = status();
const kdc = stack.kdc;
const ENGINES = (process.env.HMS_E2E_ENGINES ?? 'presto,trino').split(',').map((e) => e.trim()).filter((e): e is EngineName => e in ENGINE_VERSIONS);
const log = (line: string) => process.stderr.write(`e2e-kerberos: ${line}\n`);

function routerConfig() {
  const mysql = (port: number) => ({ host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password: stack.routerMysqlUser.password });
  return {
    server: { port: 0, host: '127.0.0.1', drainTimeoutMs: 5000, authentication: 'kerberos' },
    log: { level: 'info' },
    kerberos: { principal: kdc.principals.router, keytab: kdc.keytabs.router, krb5Conf: kdc.krb5Conf },
    metastores: {
      rw: {
        primary: { endpoints: [`localhost:${stack.metastores.rwKrb.port}`], mysql: mysql(stack.mysql.primary.port) },
        replicas: [{ name: 'r1', endpoints: [`localhost:${stack.metastores.roKrb.port}`], mysql: mysql(stack.mysql.replica.port) }],
        authentication: { type: 'kerberos', principal: 'hive/_HOST@HMS.TEST' },
        consistency: { mode: 'client', maxWaitMs: 200 },
      },
    },
    defaultMetastore: 'rw',
  };
}

/** The users the kerberized primary's audit log names for commands mentioning `needle`. */
function auditUsers(needle: string): string[] {
  return auditLogUsers(status().metastores.rwKrb.log, needle);
}

describe.each(ENGINES)('%s through a kerberized router to kerberized metastores', (engineName) => {
  const principal = engineName === 'trino' ? kdc.principals.trino! : kdc.principals.presto!;
  const keytab = engineName === 'trino' ? kdc.keytabs.trino! : kdc.keytabs.presto!;
  const stamp = Date.now();
  let router: TestRouter | undefined;
  let engine: EngineServer | undefined;
  let sql: EngineSql;

  async function runSteps(steps: Step[]): Promise<StepResult[]> {
    const results: StepResult[] = [];
    for (const step of steps) {
      const result = stepResult(step, await sql.run(step.sql));
      results.push(result);
      log(`${engineName}: ${result.ok ? 'ok  ' : 'FAIL'} ${step.step} ${result.ms} ms${result.problem ? `: ${result.problem}` : ''}`);
    }
    return results;
  }

  beforeAll(async () => {
    const install = await installEngine(engineName, log);
    router = await startTestRouter(routerConfig());
    engine = await startEngine(install, {
      // The service principal's host is the URI's host: hms-router/localhost.
      metastoreUri: `thrift://localhost:${router.port}`,
      workDir: join(REPO_ROOT, '.work', 'e2e', `${engineName}-kerberos`),
      catalogExtra: {
        'hive.metastore.authentication.type': 'KERBEROS',
        'hive.metastore.service.principal': 'hms-router/_HOST@HMS.TEST',
        'hive.metastore.client.principal': principal,
        'hive.metastore.client.keytab': keytab,
      },
      jvmExtra: kerberosJvmFlags(kdc.krb5Conf),
    });
    log(`${engineName} up at ${engine.url}; kerberized router on ${router.port}`);
    sql = new EngineSql(engine.url, install.headerPrefix);
  });

  afterAll(async () => {
    await startReplicaSqlThread(stack.mysql.replica.port);
    await engine?.stop();
    await router?.close();
  });

  it('runs the scenario with the replica SQL thread stopped, signed in as the engine\'s principal', async () => {
    const db = `e2e_krb_lagging_${engineName}_${stamp}`;
    await stopReplicaSqlThread(stack.mysql.replica.port);
    let results: StepResult[];
    try {
      results = await runSteps(tableSteps('rw', db));
    } finally {
      await startReplicaSqlThread(stack.mysql.replica.port);
    }
    expect(results.filter((s) => !s.ok).map((s) => `${s.step}: ${s.problem}`)).toEqual([]);
    expect(await router!.metric('hms_router_read_fallbacks_total', { reason: 'replica_lagging' })
      + await router!.metric('hms_router_read_fallbacks_total', { reason: 'replica_stalled' })).toBeGreaterThan(0);
    // The metastore authorized and recorded the engine's principal (through the router's token), not the router.
    expect(auditUsers(`create_database: Database(name:${db},`)).toEqual([principal]);
    expect(await router!.metric('hms_router_auth_total', { side: 'client', outcome: 'ok' })).toBeGreaterThan(0);
    expect(await router!.metric('hms_router_auth_total', { side: 'client', outcome: 'refused' })).toBe(0);
  });

  it('runs the scenario with the replica applying: reads go to the replica', async () => {
    await waitForReplicaToCatchUp(stack.mysql.primary.port, stack.mysql.replica.port, 60);
    const before = await router!.metric('hms_router_calls_total', { metastore: 'rw', role: 'replica' });
    const results = await runSteps(tableSteps('rw', `e2e_krb_normal_${engineName}_${stamp}`));
    expect(results.filter((s) => !s.ok).map((s) => `${s.step}: ${s.problem}`)).toEqual([]);
    expect(await router!.metric('hms_router_calls_total', { metastore: 'rw', role: 'replica' }) - before).toBeGreaterThan(10);
  });
});
