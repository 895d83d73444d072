/**
 * Bad input and faults: a malformed or oversized request closes only that connection (log line,
 * metric); a metastore that hangs or is down costs a client at most the deadline, with a
 * well-formed error; the router recovers when the metastore returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { status, up } from '../../stack/stack';
import { stackLayout } from '../../stack/layout';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { MessageType } from '../../src/thrift/protocol';

/** Sends bytes on a new connection; resolves with how the router ended it and what it sent back. */
function sendRaw(port: number, chunks: Buffer[], waitMs = 3000): Promise<{ closedByRouter: boolean; received: number }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let received = 0;
    const timer = setTimeout(() => { socket.destroy(); resolve({ closedByRouter: false, received }); }, waitMs);
    socket.on('data', (d) => { received += d.length; });
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(timer); resolve({ closedByRouter: true, received }); });
    socket.on('connect', () => { for (const c of chunks) socket.write(c); });
  });
}

function frameHeader(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(size, 0);
  return b;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('malformed requests', () => {
  let router: TestRouter;
  let bystander: HmsTestClient;

  beforeAll(async () => {
    router = await startTestRouter({ server: { port: 0, host: '127.0.0.1', maxMessageBytes: 1024 * 1024 } });
    bystander = await HmsTestClient.connect(router.port);
    await bystander.success('get_all_databases');
  });

  afterAll(async () => {
    bystander.close();
    await router.close();
  });

  const cases: Array<[string, string, Buffer[]]> = [
    ['random bytes', 'bad_version', [Buffer.from('7f3ee5a1f00d0badc0ffee77'.repeat(4), 'hex')]],
    ['random bytes that look like a long method name', 'bad_header', [Buffer.from('7f3ee5a1616263646566', 'hex')]],
    ['an HTTP request', 'bad_version', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['a wrong protocol version (compact protocol)', 'bad_version', [Buffer.from([0x82, 0x21, 0x01, 0x0d, ...Buffer.from('get_all_databases'), 0])]],
    ['a frame over the size limit', 'too_large', [frameHeader(64 * 1024 * 1024), Buffer.from([0x80, 0x01, 0x00, 0x01])]],
    ['a truncated frame (ends inside the header)', 'truncated', [frameHeader(6), Buffer.from([0x80, 0x01, 0x00, 0x01, 0x00, 0x00])]],
    ['a negative frame size', 'bad_header', [Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00])]],
  ];

  for (const [what, reason, chunks] of cases) {
    it(`closes the connection that sent ${what}, and only that one`, async () => {
      const before = await router.metric('hms_router_protocol_errors_total', { reason });
      const outcome = await sendRaw(router.port, chunks);
      expect(outcome.closedByRouter).toBe(true);
      expect(outcome.received).toBe(0);
      expect(await router.metric('hms_router_protocol_errors_total', { reason })).toBe(before + 1);
      expect(router.logs.some((l) => l.msg === 'closing client connection: malformed request' && l.reason === reason)).toBe(true);
      // Every other connection keeps being served.
      expect(await bystander.success('get_all_databases')).toBeInstanceOf(Array);
    });
  }

  it('closes a connection whose buffered message exceeds the size limit', async () => {
    const name = Buffer.from('create_database');
    const head = Buffer.alloc(8);
    head.writeInt32BE(0x80010001 | 0, 0);
    head.writeInt32BE(name.length, 4);
    const seq = Buffer.alloc(4);
    // field 1: struct; field 1 inside: a 2 MiB string (over the 1 MiB limit)
    const field = Buffer.from([12, 0, 1, 11, 0, 1]);
    const len = Buffer.alloc(4);
    len.writeInt32BE(2 * 1024 * 1024, 0);
    const outcome = await sendRaw(router.port, [head, name, seq, field, len, Buffer.alloc(1024 * 1024 + 100, 0x61)]);
    expect(outcome.closedByRouter).toBe(true);
    expect(await bystander.success('get_all_databases')).toBeInstanceOf(Array);
  });
});

describe('metastore faults', () => {
  const stack = status();

  it('a metastore that hangs costs the client at most the deadline, then recovers', async () => {
    const router = await startTestRouter({
      metastores: { rw: { primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`] }, timeouts: { callMs: 2000 } } },
    });
    const client = await HmsTestClient.connect(router.port);
    const pid = stack.metastores.rw.pid!;
    try {
      await client.success('get_all_databases');
      process.kill(pid, 'SIGSTOP'); // the real metastore stops answering, its sockets stay open
      const started = Date.now();
      const reply = await client.call('get_all_databases', undefined, 10_000);
      const elapsed = Date.now() - started;
      expect(reply.type).toBe(MessageType.EXCEPTION);
      expect(String(reply.result[1])).toMatch(/did not answer within 2000 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(4000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The same client connection works again once the metastore answers.
    expect(await client.success('get_all_databases')).toBeInstanceOf(Array);
    client.close();
    await router.close();
  });

  it('a metastore that is down gets a well-formed error naming it, fast', async () => {
    const port = await freePort();
    const router = await startTestRouter({
      metastores: { rw: { primary: { endpoints: [`127.0.0.1:${port}`] }, pool: { minIdle: 0 } } },
    });
    const client = await HmsTestClient.connect(router.port);
    const started = Date.now();
    const reply = await client.call('get_all_databases');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(reply.type).toBe(MessageType.EXCEPTION);
    expect(String(reply.result[1])).toContain(`cannot connect to metastore 127.0.0.1:${port}`);
    const ready = await fetch(`http://127.0.0.1:${router.adminPort}/readyz`);
    expect(ready.status).toBe(503);
    client.close();
    await router.close();
  });

  it('recovers when a killed metastore is started again', async () => {
    const router = await startTestRouter();
    const client = await HmsTestClient.connect(router.port);
    await client.success('get_all_databases');
    process.kill(stack.metastores.rw.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const down = await client.call('get_all_databases');
    expect(down.type).toBe(MessageType.EXCEPTION);
    await up(stackLayout(stack.hiveVersion));
    // Give the backoff window time to pass, then the same client connection is served again.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await client.success('get_all_databases')).toBeInstanceOf(Array);
    client.close();
    await router.close();
  });
});
