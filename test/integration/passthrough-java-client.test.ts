/**
 * Hive's own HiveMetaStoreClient through the router, over buffered and framed transport: every
 * answer equals the same call made directly to the real metastore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { runJava } from '../support/java-tools';
import { startTestRouter, TestRouter } from '../support/router-harness';

const stack = status();
const DB = 'passthrough_probe';
const PARTITIONS = '2000';

describe('Hive Java client through the router', () => {
  let router: TestRouter;
  let direct: string;

  beforeAll(async () => {
    router = await startTestRouter();
    const run = await runJava('HmsProbe.java', ['--uri', stack.metastores.rw.uri, '--db', DB, '--partitions', PARTITIONS]);
    expect(run.code, run.stderr).toBe(0);
    direct = run.stdout;
    const doc = JSON.parse(direct) as { steps: Array<{ step: string; ok: boolean; error?: string }> };
    // The scenario itself must work directly, or the comparison proves nothing.
    const failed = doc.steps.filter((s) => !s.ok && s.step !== 'get_table_after_drop');
    expect(failed).toEqual([]);
    expect(doc.steps.map((s) => s.step)).toContain('get_partitions_by_names');
  });

  afterAll(async () => {
    await router.close();
  });

  for (const transport of ['buffered', 'framed'] as const) {
    it(`answers exactly as the metastore does (${transport} transport)`, async () => {
      const before = await router.metric('hms_router_calls_total');
      const args = ['--uri', `thrift://127.0.0.1:${router.port}`, '--db', DB, '--partitions', PARTITIONS];
      if (transport === 'framed') args.push('--framed');
      const run = await runJava('HmsProbe.java', args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(direct);
      // The calls did go through the router, set_ugi included.
      expect(await router.metric('hms_router_calls_total') - before).toBeGreaterThan(15);
      expect(await router.metric('hms_router_calls_total', { method: 'set_ugi', outcome: 'ok' })).toBeGreaterThan(0);
      expect(await router.metric('hms_router_client_connections_total', { transport })).toBeGreaterThan(0);
    });
  }

  it('logs one line per connection open and close', () => {
    const opened = router.logs.filter((l) => l.msg === 'client connected').length;
    const closed = router.logs.filter((l) => l.msg === 'client disconnected').length;
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(closed).toBe(opened);
  });
});
