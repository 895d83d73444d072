/**
 * What the metastore reads on a backend connection is exactly what the router routed, and each reply
 * answers the call it is sent for. Found by fuzzing (bench/reliability-fuzz.ts):
 * - a frame holding bytes after its message: the metastore read them as a further call, one the
 *   router never saw or checked (past routing.access), whose reply then answered the next call on
 *   that pooled connection, possibly another client's;
 * - a oneway message of a method the metastore answers anyway: its reply answered the next call;
 * - a frame whose arguments do not parse reached code outside the handler's error path (set_ugi's
 *   groups) and the rejection ended the router process.
 * A fake metastore (no stack needed) answers every message it reads, after a delay, as Hive's does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BinaryWriter, frame } from '../../src/thrift/binary-writer';
import { MessageReader, RawMessage, Transport } from '../../src/thrift/message-reader';
import { MessageType, ProtocolError, TType, parseMessageHeader } from '../../src/thrift/protocol';
import { configSchema } from '../../src/config/schema';
import { createLogger } from '../../src/log';
import { startRouter, RunningRouter } from '../../src/server';
import { RouterMetrics } from '../../src/admin/metrics';
import { MetastoreBackends } from '../../src/backends/metastore-backends';
import { CallHandler } from '../../src/proxy/call-handler';
import { FlowControl } from '../../src/flow/flow-control';
import { routingMapOf } from '../../src/config/load';
import { decodeStruct } from '../../src/thrift/value-decoder';

interface FakeMetastore { readonly port: number; readonly received: string[]; close(): Promise<void> }

/** Answers every message it reads (calls and oneway alike) after `delayMs`, with its method name as the result. */
async function fakeMetastore(delayMs: number): Promise<FakeMetastore> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 20 });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      for (const m of reader.push(chunk)) {
        received.push(m.header.name);
        const reply = new BinaryWriter().messageBegin(m.header.name, MessageType.REPLY, m.header.seqid)
          .fieldBegin(TType.STRING, 0).string(m.header.name).fieldStop().finish();
        setTimeout(() => { if (!socket.destroyed) socket.write(reply); }, delayMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function call(name: string, seqid: number, type: MessageType = MessageType.CALL, args: (w: BinaryWriter) => void = () => {}): Buffer {
  const w = new BinaryWriter().messageBegin(name, type, seqid);
  args(w);
  return Buffer.from(w.fieldStop().finish());
}

/** Sends `bytes` on a new connection; resolves with the replies read until `replies` arrived or the router closed. */
function exchange(port: number, bytes: Buffer, transport: Transport, replies: number, timeoutMs = 3000): Promise<{ replies: RawMessage[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const reader = new MessageReader({ transport, maxMessageBytes: 1 << 20 });
    const got: RawMessage[] = [];
    const done = (closed: boolean) => { clearTimeout(timer); socket.destroy(); resolve({ replies: got, closed }); };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
    socket.on('data', (chunk) => {
      got.push(...reader.push(chunk));
      if (got.length >= replies) done(false);
    });
    socket.on('connect', () => socket.write(bytes));
  });
}

describe('backend connections stay in step with what the router routed', () => {
  let metastore: FakeMetastore;
  let router: RunningRouter;

  beforeAll(async () => {
    metastore = await fakeMetastore(50);
    // One backend connection: every call reuses the connection the previous one used.
    const config = configSchema.parse({
      server: { host: '127.0.0.1', port: 0 },
      admin: { port: 0 },
      metastores: { rw: { primary: { endpoints: [`127.0.0.1:${metastore.port}`] }, pool: { minIdle: 0, max: 1 } } },
      defaultMetastore: 'rw',
      routing: { access: { rw: { mode: 'read-only' } } },
    });
    router = await startRouter(config, createLogger('silent'), { watchConfig: false });
  });

  afterAll(async () => {
    await router.close();
    await metastore.close();
  });

  it('refuses a frame holding a further call after its message; the metastore never reads that call', async () => {
    // get_database(...) with its struct closed early, then a whole drop_database call inside the same frame.
    const hidden = call('drop_database', 7, MessageType.CALL, (w) => { w.fieldBegin(TType.STRING, 1).string('sales'); });
    const smuggling = frame(Buffer.concat([call('get_database', 1), hidden]));
    const then = frame(call('get_table', 2));
    const outcome = await exchange(router.port, Buffer.concat([smuggling, then]), 'framed', 1);
    expect(outcome.closed).toBe(true);
    expect(outcome.replies).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(metastore.received).not.toContain('drop_database');
    const errors = await router.metrics.registry.getSingleMetric('hms_router_protocol_errors_total')!.get();
    expect(errors.values.find((v) => v.labels.reason === 'bad_header')?.value).toBe(1);
  });

  it('a oneway message of a method the metastore answers: the next call gets its own reply', async () => {
    const oneway = call('get_database', 1, MessageType.ONEWAY, (w) => { w.fieldBegin(TType.STRING, 1).string('default'); });
    const next = call('get_table', 2, MessageType.CALL, (w) => { w.fieldBegin(TType.STRING, 1).string('default').fieldBegin(TType.STRING, 2).string('t'); });
    const outcome = await exchange(router.port, Buffer.concat([oneway, next]), 'buffered', 1);
    expect(outcome.replies).toHaveLength(1);
    const reply = outcome.replies[0]!;
    expect(reply.header.name).toBe('get_table');
    expect(reply.header.seqid).toBe(2);
    expect(decodeStruct(reply.bytes, reply.header.bodyOffset).value[0]).toBe('get_table');
  });
});

describe('the call handler never rejects', () => {
  it('answers set_ugi whose groups do not parse with an error reply (the rejection ended the process)', async () => {
    const config = configSchema.parse({
      metastores: { rw: { primary: { endpoints: ['127.0.0.1:9'] }, pool: { minIdle: 0 } } },
      defaultMetastore: 'rw',
    });
    const metrics = new RouterMetrics();
    const log = createLogger('silent');
    const backends = new MetastoreBackends(config, metrics, log);
    const flow = new FlowControl(metrics);
    const handler = new CallHandler(config, backends, new Map(), metrics, log, flow, routingMapOf(config));
    try {
      // set_ugi(1: 'u', 2: list<string> of 3 with one given): a message no reader hands out any more.
      const bytes = call('set_ugi', 5, MessageType.CALL, (w) => { w.fieldBegin(TType.STRING, 1).string('u').fieldBegin(TType.LIST, 2).listBegin(TType.STRING, 3).string('g'); });
      expect(() => new MessageReader({ transport: 'framed', maxMessageBytes: 1 << 20 }).push(frame(bytes))).toThrow(ProtocolError);
      const message: RawMessage = { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
      const session = { id: 1, remoteAddress: '127.0.0.1:1', identity: null, principal: null, dedicated: new Map(), holders: new Map() };
      const reply = await handler.handle(message, session);
      expect(reply).not.toBeNull();
      const out = Buffer.isBuffer(reply) ? reply : Buffer.concat(reply as readonly Buffer[]);
      const header = parseMessageHeader(out, 0, out.length)!;
      expect(header.type).toBe(MessageType.EXCEPTION);
      expect(header.seqid).toBe(5);
      expect(String(decodeStruct(out, header.bodyOffset).value[1])).toMatch(/malformed arguments for set_ugi/);
    } finally {
      flow.close();
      await backends.close();
    }
  });
});
