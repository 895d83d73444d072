/**
 * A set_ugi the metastore refuses (Hive closes the connection on an empty user name) fails the
 * client's call at once, and the router does not retry it in a loop. Found by fuzzing
 * (bench/reliability-fuzz.ts, a valid set_ugi('', [])): generic-pool re-created the refused
 * connection at once, over and over, for as long as the acquire waited (10 s): 24,192 connections
 * to the real metastore for one call, then a misleading "all 64 busy" error.
 * A fake metastore stands in (no stack needed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageReader, RawMessage } from '../../src/thrift/message-reader';
import { MessageType, TType } from '../../src/thrift/protocol';
import { configSchema } from '../../src/config/schema';
import { createLogger } from '../../src/log';
import { startRouter, RunningRouter } from '../../src/server';
import { decodeStruct } from '../../src/thrift/value-decoder';

/** Closes the connection on set_ugi with an empty user; answers every other call with an empty result. */
async function refusingMetastore(): Promise<{ port: number; setUgiCalls: () => number; close(): Promise<void> }> {
  let setUgiCalls = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 20 });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      for (const m of reader.push(chunk)) {
        if (m.header.name === 'set_ugi') {
          setUgiCalls += 1;
          const user = m.bytes.toString('utf8', m.header.bodyOffset + 7, m.header.bodyOffset + 7 + m.bytes.readInt32BE(m.header.bodyOffset + 3));
          if (user === '') { socket.destroy(); return; }
        }
        socket.write(new BinaryWriter().messageBegin(m.header.name, MessageType.REPLY, m.header.seqid)
          .fieldBegin(TType.LIST, 0).listBegin(TType.STRING, 0).fieldStop().finish());
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    setUgiCalls: () => setUgiCalls,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function setUgi(user: string): Buffer {
  return Buffer.from(new BinaryWriter().messageBegin('set_ugi', MessageType.CALL, 1)
    .fieldBegin(TType.STRING, 1).string(user).fieldBegin(TType.LIST, 2).listBegin(TType.STRING, 0).fieldStop().finish());
}

function callOnce(port: number, request: Buffer): Promise<{ reply: RawMessage | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 20 });
    const timer = setTimeout(() => { socket.destroy(); resolve({ reply: null, ms: Date.now() - started }); }, 15_000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      const [reply] = reader.push(chunk);
      if (reply !== undefined) { clearTimeout(timer); socket.destroy(); resolve({ reply, ms: Date.now() - started }); }
    });
    socket.on('connect', () => socket.write(request));
  });
}

describe('a set_ugi the metastore refuses', () => {
  let metastore: Awaited<ReturnType<typeof refusingMetastore>>;
  let router: RunningRouter;

  beforeAll(async () => {
    metastore = await refusingMetastore();
    const config = configSchema.parse({
      server: { host: '127.0.0.1', port: 0 },
      admin: { port: 0 },
      metastores: { rw: { primary: { endpoints: [`127.0.0.1:${metastore.port}`] }, health: { intervalMs: 600_000 } } },
      defaultMetastore: 'rw',
    });
    router = await startRouter(config, createLogger('silent'), { watchConfig: false });
  });

  afterAll(async () => {
    await router.close();
    await metastore.close();
  });

  it('fails the call at once with the reason, and costs the metastore one try per backoff window', { timeout: 20_000 }, async () => {
    const { reply, ms } = await callOnce(router.port, setUgi(''));
    expect(ms).toBeLessThan(2000);
    expect(reply?.header.type).toBe(MessageType.EXCEPTION);
    expect(String(decodeStruct(reply!.bytes, reply!.header.bodyOffset).value[1])).toMatch(/set_ugi\(\) on metastore .* failed/);
    // Another second: before, thousands of set_ugi tries; now one per retryBackoffMs (1 s).
    await new Promise((r) => setTimeout(r, 1500));
    expect(metastore.setUgiCalls()).toBeLessThanOrEqual(3);
    // Other identities are not held up.
    const other = await callOnce(router.port, setUgi('alice'));
    expect(other.reply?.header.type).toBe(MessageType.REPLY);
  });
});
