/**
 * Reloading the routing map without a restart, on the real rw and fed metastores: a good map is
 * swapped in whole, a bad one is refused with its reasons while the old one keeps serving, and a
 * client loop running meanwhile sees no failed call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../stack/layout';
import { status } from '../../stack/stack';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';

const stack = status();
const DB = `reload_probe_${Date.now()}`;
const TOKEN = 'test-admin-token-0123456789';

function document(routing: unknown): Record<string, unknown> {
  return {
    server: { port: 0, host: '127.0.0.1', drainTimeoutMs: 5000 },
    admin: { port: 0, token: TOKEN },
    log: { level: 'info' },
    metastores: {
      rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } },
      fed: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
    },
    defaultMetastore: 'rw',
    routing,
  };
}

const TO_RW = { routes: [{ database: DB, metastore: 'rw' }] };
const TO_FED = { routes: [{ database: DB, metastore: 'fed' }] };
const BAD = { routes: [{ regex: '(unclosed', metastore: 'fed' }, { database: DB, metastore: 'nowhere' }] };

/** Which metastore served get_database(DB): the two copies have different locations. */
async function servedBy(client: HmsTestClient): Promise<'rw' | 'fed'> {
  const r = await client.call('get_database', args.name(DB));
  const db = r.result[0] as Record<number, string> | undefined;
  if (db === undefined) throw new Error(`get_database failed: ${JSON.stringify(r.result)}`);
  return db[3]!.includes('/fed-copy/') ? 'fed' : 'rw';
}

describe('routing map reload', () => {
  let router: TestRouter;
  const reload = (token = TOKEN) => fetch(`http://127.0.0.1:${router.adminPort}/routing/reload`,
    { method: 'POST', headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    for (const [port, dir] of [[stack.metastores.rw.port, 'rw-copy'], [stack.metastores.fed.port, 'fed-copy']] as const) {
      const c = await HmsTestClient.connect(port);
      await c.call('drop_database', args.dropDatabase(DB));
      await c.success('create_database', args.createDatabase(DB, `${stack.warehouse}/${dir}/${DB}.db`));
      c.close();
    }
    router = await startTestRouter(document(TO_RW));
  });

  afterAll(async () => {
    await router.close();
    for (const port of [stack.metastores.rw.port, stack.metastores.fed.port]) {
      const c = await HmsTestClient.connect(port);
      await c.call('drop_database', args.dropDatabase(DB));
      c.close();
    }
  });

  it('shows the active map with its version and load time', async () => {
    const body = await fetch(`http://127.0.0.1:${router.adminPort}/routing`).then((r) => r.json()) as Record<string, unknown>;
    expect(body.version).toMatch(/^[0-9a-f]{12}$/);
    expect(typeof body.loadedAt).toBe('string');
    expect(JSON.stringify(body.map)).toContain(DB);
  });

  it('needs the admin token to reload', async () => {
    expect((await reload('wrong-token-0123456789')).status).toBe(401);
  });

  it('refuses a bad map with every reason and keeps the old one serving', async () => {
    const client = await HmsTestClient.connect(router.port);
    writeFileSync(router.configPath, JSON.stringify(document(BAD)));
    const res = await reload();
    expect(res.status).toBe(400);
    const body = await res.json() as { problems: string[] };
    expect(body.problems.join('\n')).toMatch(/routing\.routes\.0\.regex: invalid regular expression/);
    expect(body.problems.join('\n')).toMatch(/routing\.routes\.1\.metastore: unknown metastore 'nowhere'/);
    expect(await servedBy(client)).toBe('rw');
    expect(await router.metric('hms_router_routing_reloads_total', { outcome: 'refused' })).toBe(1);
    expect(router.logs.some((l) => l.msg === 'routing map refused; the previous map keeps serving')).toBe(true);
    client.close();
  });

  it('changes routes 50 times under load with zero failed calls', async () => {
    let running = true;
    let calls = 0;
    const failures: string[] = [];
    const loop = Promise.all(Array.from({ length: 4 }, async () => {
      while (running) {
        const c = await HmsTestClient.connect(router.port);
        try { await servedBy(c); calls += 1; } catch (err) { failures.push((err as Error).message); } finally { c.close(); }
      }
    }));
    const checker = await HmsTestClient.connect(router.port);
    let refused = 0;
    for (let i = 0; i < 50; i++) {
      const kind = i % 5 === 4 ? 'bad' : i % 2 === 0 ? 'fed' : 'rw';
      writeFileSync(router.configPath, JSON.stringify(document(kind === 'bad' ? BAD : kind === 'fed' ? TO_FED : TO_RW)));
      const before = await servedBy(checker);
      const res = await reload();
      if (kind === 'bad') {
        refused += 1;
        expect(res.status).toBe(400);
        expect(await servedBy(checker)).toBe(before); // the old map keeps serving
      } else {
        expect(res.status).toBe(200);
        expect(await servedBy(checker)).toBe(kind); // the next call follows the new map
      }
    }
    running = false;
    await loop;
    checker.close();
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(50);
    expect(refused).toBe(10);
  });

  it('reloads when the config file changes (watched, debounced)', async () => {
    const watched = await startTestRouter(document(TO_RW), { watchConfig: true });
    try {
      const client = await HmsTestClient.connect(watched.port);
      expect(await servedBy(client)).toBe('rw');
      writeFileSync(watched.configPath, JSON.stringify(document(TO_FED)));
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && await watched.metric('hms_router_routing_reloads_total', { source: 'file', outcome: 'ok' }) === 0) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await servedBy(client)).toBe('fed');
      client.close();
    } finally {
      await watched.close();
    }
  });

  it('the hms-router process reloads on SIGHUP', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hms-router-sighup-')), 'router.yaml');
    const withPorts = (routing: unknown) => JSON.stringify({ ...document(routing), server: { host: '127.0.0.1', port: 19972 }, admin: { port: 19973, token: TOKEN } });
    writeFileSync(file, withPorts(TO_RW));
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), '--config', file], { stdio: 'ignore' });
    try {
      const version = async () => {
        for (let i = 0; i < 100; i++) {
          try { return ((await fetch('http://127.0.0.1:19973/routing').then((r) => r.json())) as { version: string }).version; } catch { /* starting */ }
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error('router process did not start');
      };
      const before = await version();
      writeFileSync(file, withPorts(TO_FED));
      child.kill('SIGHUP');
      let after = before;
      for (let i = 0; i < 50 && after === before; i++) { await new Promise((r) => setTimeout(r, 100)); after = await version(); }
      expect(after).not.toBe(before);
      const metrics = await fetch('http://127.0.0.1:19973/metrics').then((r) => r.text());
      expect(metrics).toMatch(/hms_router_routing_reloads_total\{source="sighup",outcome="ok"\} 1/);
      const client = await HmsTestClient.connect(19972);
      expect(await servedBy(client)).toBe('fed');
      client.close();
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('reloads on SIGHUP the same way (the CLI wires SIGHUP to this)', async () => {
    writeFileSync(router.configPath, JSON.stringify(document(TO_FED)));
    const result = router.reloadRouting();
    expect(result.ok).toBe(true);
    const client = await HmsTestClient.connect(router.port);
    expect(await servedBy(client)).toBe('fed');
    client.close();
  });
});
