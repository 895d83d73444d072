/**
 * SIGTERM on the hms-router process: it stops accepting, answers every call in flight, then exits;
 * a call that cannot finish within server.drainTimeoutMs is cut at that bound, never left hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../stack/layout';
import { status } from '../../stack/stack';
import { MessageType, TType } from '../../src/thrift/protocol';
import { HmsTestClient, args } from '../support/hms-test-client';
import { addPartitionsArgs, createTableArgs, TableSpec } from '../support/hms-objects';
import { closedPort, CuttingRelay } from '../support/cutting-relay';

const stack = status();
const db = `shutdown_${Date.now()}`;
const spec: TableSpec = {
  db, table: 't', location: `${stack.warehouse}/${db}.db/t`,
  columns: [['id', 'bigint'], ['s', 'string']], partitionKeys: [['day', 'string'], ['hour', 'int']],
};
let direct: HmsTestClient;

beforeAll(async () => {
  direct = await HmsTestClient.connect(stack.metastores.rw.port);
  await direct.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
  await direct.success('create_table', createTableArgs(spec));
  await direct.success('add_partitions', addPartitionsArgs(spec, Array.from({ length: 600 }, (_, i) => [`2024-03-${String(1 + Math.floor(i / 24)).padStart(2, '0')}`, String(i % 24)])));
}, 300_000);

afterAll(async () => {
  await direct.call('drop_database', args.dropDatabase(db), 300_000);
  direct.close();
});

async function startRouterProcess(metastorePort: number, drainTimeoutMs: number): Promise<{ child: ChildProcess; port: number; exited: Promise<number | null> }> {
  const port = await closedPort();
  const adminPort = await closedPort();
  const file = join(mkdtempSync(join(tmpdir(), 'hms-router-shutdown-')), 'router.yaml');
  writeFileSync(file, JSON.stringify({
    server: { host: '127.0.0.1', port, drainTimeoutMs },
    admin: { port: adminPort },
    metastores: { rw: { primary: { endpoints: [`127.0.0.1:${metastorePort}`] }, batching: { enabled: false }, timeouts: { callMs: 60_000 } } },
    defaultMetastore: 'rw',
  }));
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), '--config', file], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok) return { child, port, exited }; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('router process did not start');
}

const listing = (w: import('../../src/thrift/binary-writer').BinaryWriter) => {
  w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string('t').fieldBegin(TType.I16, 3).i16(-1);
};

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

describe('SIGTERM', () => {
  it('answers every call in flight, refuses new connections, and exits 0', async () => {
    // The metastore's replies are held until after SIGTERM, so the calls are surely in flight.
    const relay = await CuttingRelay.start(stack.metastores.rw.port);
    try {
      const router = await startRouterProcess(relay.port, 30_000);
      const clients = await Promise.all(Array.from({ length: 8 }, () => HmsTestClient.connect(router.port)));
      relay.mode = 'hold-replies';
      const calls = clients.map((c) => c.call('get_partitions', listing, 60_000));
      for (let i = 0; i < 300 && relay.heldReplies < 8; i++) await new Promise((r) => setTimeout(r, 50));
      expect(relay.heldReplies).toBe(8);
      router.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect(await refused(router.port)).toBe(true);
      relay.release();
      const replies = await Promise.all(calls);
      for (const r of replies) {
        expect(r.type).toBe(MessageType.REPLY);
        expect((r.result[0] as unknown[]).length).toBe(600);
      }
      expect(await router.exited).toBe(0);
      clients.forEach((c) => c.close());
    } finally {
      await relay.close();
    }
  });

  it('a call that cannot finish is cut at drainTimeoutMs: the client sees its connection close, the process exits', async () => {
    const relay = await CuttingRelay.start(stack.metastores.rw.port);
    try {
      const router = await startRouterProcess(relay.port, 1000);
      const client = await HmsTestClient.connect(router.port);
      relay.mode = 'swallow-replies'; // the metastore hangs
      const call = client.call('get_database', args.name(db), 60_000).then(() => 'answered', (err: Error) => err.message);
      await new Promise((r) => setTimeout(r, 100));
      const signalled = Date.now();
      router.child.kill('SIGTERM');
      expect(await call).toMatch(/closed/);
      expect(await router.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(1000 + 3000);
    } finally {
      await relay.close();
    }
  });
});
