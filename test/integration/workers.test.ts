/**
 * server.workers: 2 on the real rw and fed metastores, the CLI run as a child process: new
 * connections are spread over both workers, /metrics counts every call once for the host, a
 * reload reaches every worker with one outcome (a bad map changes nothing), a worker killed with
 * SIGKILL is replaced while the port keeps answering, and SIGTERM lets a slow call in flight
 * finish before the process exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../stack/layout';
import { status } from '../../stack/stack';
import { MessageType } from '../../src/thrift/protocol';
import { HmsTestClient, args } from '../support/hms-test-client';
import { closedPort, CuttingRelay } from '../support/cutting-relay';

const stack = status();
const DB = `workers_probe_${Date.now()}`;
const TOKEN = 'test-admin-token-0123456789';
const TO_RW = { routes: [{ database: DB, metastore: 'rw' }] };
const TO_FED = { routes: [{ database: DB, metastore: 'fed' }] };
const BAD = { routes: [{ regex: '(unclosed', metastore: 'fed' }] };

let relay: CuttingRelay;
let child: ChildProcess;
let exited: Promise<number | null>;
let port: number;
let adminPort: number;
let configPath: string;
const logs: Array<Record<string, unknown>> = [];

function document(routing: unknown): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port, workers: 2, drainTimeoutMs: 30_000 },
    admin: { port: adminPort, token: TOKEN },
    log: { level: 'info' },
    metastores: {
      // rw through a relay that can hold replies (a slow metastore, on cue).
      rw: { primary: { endpoints: [`127.0.0.1:${relay.port}`] }, batching: { enabled: false }, timeouts: { callMs: 60_000 } },
      fed: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
    },
    defaultMetastore: 'rw',
    routing,
  };
}

const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${adminPort}${path}`, init);
const reload = () => admin('/routing/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

/** Every sample of a metric in the primary's /metrics: labels and value. */
async function samples(name: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await admin('/metrics').then((r) => r.text());
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** Calls answered per live worker pid. */
async function callsByPid(): Promise<Map<number, number>> {
  return new Map((await samples('hms_router_worker_calls_total')).map((s) => [Number(s.labels.pid), s.value]));
}

/** Which metastore served get_database(DB) on a new connection: the two copies have different locations. */
async function servedBy(): Promise<'rw' | 'fed'> {
  const c = await HmsTestClient.connect(port);
  try {
    const r = await c.call('get_database', args.name(DB));
    const db = r.result[0] as Record<number, string> | undefined;
    if (db === undefined) throw new Error(`get_database failed: ${JSON.stringify(r.result)}`);
    return db[3]!.includes('/fed-copy/') ? 'fed' : 'rw';
  } finally {
    c.close();
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function refused(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(p, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

beforeAll(async () => {
  for (const [p, dir] of [[stack.metastores.rw.port, 'rw-copy'], [stack.metastores.fed.port, 'fed-copy']] as const) {
    const c = await HmsTestClient.connect(p);
    await c.call('drop_database', args.dropDatabase(DB));
    await c.success('create_database', args.createDatabase(DB, `${stack.warehouse}/${dir}/${DB}.db`));
    c.close();
  }
  relay = await CuttingRelay.start(stack.metastores.rw.port);
  port = await closedPort();
  adminPort = await closedPort();
  configPath = join(mkdtempSync(join(tmpdir(), 'hms-router-workers-')), 'router.yaml');
  writeFileSync(configPath, JSON.stringify(document(TO_RW)));
  child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try { logs.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not a log line */ }
  });
  await until('the router to be ready', async () => (await admin('/readyz')).ok, 60_000);
});

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // its workers exit when it is gone
  await relay.close();
  for (const p of [stack.metastores.rw.port, stack.metastores.fed.port]) {
    const c = await HmsTestClient.connect(p);
    await c.call('drop_database', args.dropDatabase(DB));
    c.close();
  }
});

describe('server.workers: 2', () => {
  it('serves new connections from both workers, and /metrics and /stats count every call once', async () => {
    const workers = new Set(logs.filter((l) => l.msg === 'hms-router listening').map((l) => l.worker));
    expect(workers.size).toBe(2); // each worker's lines carry its id
    expect(await samples('hms_router_workers')).toEqual([{ labels: {}, value: 2 }]);
    const before = await callsByPid();
    expect(before.size).toBe(2);
    expect(before.has(child.pid!)).toBe(false); // the workers are processes of their own

    const CALLS = 40;
    for (let i = 0; i < CALLS; i++) expect(await servedBy()).toBe('rw');

    const after = await callsByPid();
    for (const [pid, n] of after) expect(n - (before.get(pid) ?? 0), `calls served by worker pid ${pid}`).toBeGreaterThan(0);
    const calls = (await samples('hms_router_calls_total')).filter((s) => s.labels.method === 'get_database');
    expect(calls.reduce((n, s) => n + s.value, 0)).toBe(CALLS);
    const stats = await admin('/stats').then((r) => r.json()) as { metastores: Record<string, { calls: number }> };
    expect(stats.metastores.rw?.calls).toBe(CALLS);
  });

  it('applies a reload on every worker with one outcome', async () => {
    const before = await callsByPid();
    writeFileSync(configPath, JSON.stringify(document(TO_FED)));
    const res = await reload();
    expect(res.status).toBe(200);
    const body = await res.json() as { ok: boolean; version: string; changed: boolean; workers: Array<{ ok: boolean; version: string }> };
    expect(body).toMatchObject({ ok: true, changed: true });
    expect(body.workers).toHaveLength(2);
    for (const w of body.workers) expect(w).toMatchObject({ ok: true, version: body.version });
    expect((await admin('/routing').then((r) => r.json()) as { version: string }).version).toBe(body.version);
    // Every new connection, whichever worker takes it, follows the new map.
    for (let i = 0; i < 20; i++) expect(await servedBy()).toBe('fed');
    const after = await callsByPid();
    for (const [pid, n] of after) expect(n - (before.get(pid) ?? 0), `calls served by worker pid ${pid}`).toBeGreaterThan(0);
  });

  it('refuses a bad map with 400 and its reasons, and no worker changes', async () => {
    const version = (await admin('/routing').then((r) => r.json()) as { version: string }).version;
    writeFileSync(configPath, JSON.stringify(document(BAD)));
    const res = await reload();
    expect(res.status).toBe(400);
    const body = await res.json() as { ok: boolean; problems: string[]; workers: Array<{ worker: number; ok: boolean; problems: string[] }> };
    expect(body.ok).toBe(false);
    // Both workers refuse it for the same reason: listed once.
    expect(body.problems).toEqual([expect.stringMatching(/^routing\.routes\.0\.regex: invalid regular expression/)]);
    expect(body.workers).toHaveLength(2);
    for (const w of body.workers) expect(w.ok).toBe(false);
    expect((await admin('/routing').then((r) => r.json()) as { version: string }).version).toBe(version);
    for (let i = 0; i < 20; i++) expect(await servedBy()).toBe('fed');
    writeFileSync(configPath, JSON.stringify(document(TO_FED))); // the file the replacement below starts from is good again
  });

  it('replaces a worker killed with SIGKILL; the port keeps answering, and the replacement runs the reloaded map', async () => {
    const [victim] = [...(await callsByPid()).keys()];
    process.kill(victim!, 'SIGKILL');
    await until('the primary to see the worker exit', async () => (await samples('hms_router_worker_restarts_total'))[0]?.value === 1);
    // The other worker serves meanwhile.
    for (let i = 0; i < 10; i++) expect(await servedBy()).toBe('fed');
    await until('/readyz with both workers', async () => (await admin('/readyz')).ok && (await samples('hms_router_workers'))[0]?.value === 2);
    const pids = await callsByPid();
    expect(pids.has(victim!)).toBe(false);
    expect(pids.size).toBe(2);
    const exit = logs.find((l) => l.msg === 'worker exited unexpectedly; starting a replacement');
    expect(exit).toMatchObject({ pid: victim, signal: 'SIGKILL' });
    const before = await callsByPid();
    for (let i = 0; i < 20; i++) expect(await servedBy()).toBe('fed');
    const after = await callsByPid();
    for (const [pid, n] of after) expect(n - (before.get(pid) ?? 0), `calls served by worker pid ${pid}`).toBeGreaterThan(0);
  });

  it('SIGTERM: a slow call in flight finishes, new connections are refused, the process exits 0', async () => {
    const client = await HmsTestClient.connect(port);
    relay.mode = 'hold-replies';
    const call = client.call('get_database', args.name('default'), 60_000); // default routes to rw, through the relay
    await until('the reply to be held', async () => relay.heldReplies === 1);
    child.kill('SIGTERM');
    await until('the port to refuse new connections', () => refused(port), 5000);
    expect((await admin('/readyz')).status).toBe(503);
    relay.release();
    const reply = await call;
    expect(reply.type).toBe(MessageType.REPLY);
    expect((reply.result[0] as Record<number, string>)[1]).toBe('default');
    client.close();
    expect(await exited).toBe(0);
    expect(logs.filter((l) => l.msg === 'hms-router stopped')).toHaveLength(2); // each worker drained
    expect(logs.some((l) => l.msg === 'hms-router stopped (every worker drained)')).toBe(true);
  });
});

describe('server.workers: 2, a worker that cannot start', () => {
  it('fails the whole start with that worker\'s error, without a restart loop', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const takenPort = (taken.address() as AddressInfo).port;
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'hms-router-workers-')), 'router.yaml');
      writeFileSync(file, JSON.stringify({
        server: { host: '127.0.0.1', port: takenPort, workers: 2 },
        admin: { port: await closedPort() },
        metastores: { rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] } } },
        defaultMetastore: 'rw',
      }));
      const failing = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let forks = 0;
      failing.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      createInterface({ input: failing.stdout! }).on('line', (line) => { if (line.includes('"msg":"worker exited"')) forks += 1; });
      const code = await new Promise<number | null>((resolve) => failing.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`^hms-router: error: worker \\d failed to start: cannot listen on 127\\.0\\.0\\.1:${takenPort}: .*EADDRINUSE`));
      expect(forks).toBe(2); // both exited once; none was forked again
    } finally {
      taken.close();
    }
  });
});
