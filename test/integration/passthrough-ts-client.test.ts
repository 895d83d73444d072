/**
 * The router as seen by a Thrift client written with the project's own codec, against the real rw
 * metastore: byte-identical replies, seqids restored, unknown methods passed through and counted,
 * oneway calls, pipelining, the old non-strict header, set_ugi identities.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { status } from '../../stack/stack';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType } from '../../src/thrift/protocol';
import { MessageReader, RawMessage } from '../../src/thrift/message-reader';

const stack = status();

/** Same reply apart from the seqid (each client numbers its own calls). */
function sameReply(a: { bytes: Buffer }, b: { bytes: Buffer }): boolean {
  const strip = (x: Buffer) => { const c = Buffer.from(x); const nameLength = c.readInt32BE(4); c.writeInt32BE(0, 8 + nameLength); return c; };
  return strip(a.bytes).equals(strip(b.bytes));
}

/** Sends raw bytes on a fresh connection and collects `count` reply messages. */
function exchange(port: number, bytes: Buffer, count: number): Promise<RawMessage[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 26 });
    const got: RawMessage[] = [];
    socket.on('data', (chunk) => {
      got.push(...reader.push(chunk));
      if (got.length >= count) { socket.destroy(); resolve(got); }
    });
    socket.on('error', reject);
    socket.on('close', () => { if (got.length < count) reject(new Error(`connection closed after ${got.length} replies`)); });
    socket.write(bytes);
  });
}

describe('pass-through with the project TypeScript client', () => {
  let router: TestRouter;
  let viaRouter: HmsTestClient;
  let direct: HmsTestClient;
  const db = `ts_client_${Date.now()}`;

  beforeAll(async () => {
    router = await startTestRouter();
    viaRouter = await HmsTestClient.connect(router.port);
    direct = await HmsTestClient.connect(stack.metastores.rw.port);
  });

  afterAll(async () => {
    await direct.call('drop_database', args.dropDatabase(db));
    viaRouter.close();
    direct.close();
    await router.close();
  });

  it('creates a database and reads it back byte-for-byte as the metastore answers', async () => {
    await viaRouter.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
    const a = await viaRouter.call('get_database', args.name(db));
    const b = await direct.call('get_database', args.name(db));
    expect(a.result[0]).toBeDefined();
    expect(sameReply(a, b)).toBe(true);
    const all = (await viaRouter.success('get_all_databases')) as string[];
    expect(all).toContain(db);
  });

  it('passes an unknown method through to the metastore and counts it', async () => {
    const a = await viaRouter.call('get_hms_router_future_method', args.name(db));
    const b = await direct.call('get_hms_router_future_method', args.name(db));
    expect(a.type).toBe(MessageType.EXCEPTION);
    expect(String(a.result[1])).toContain('get_hms_router_future_method'); // the metastore's own words
    expect(sameReply(a, b)).toBe(true);
    expect(await router.metric('hms_router_unknown_method_calls_total', { method: 'get_hms_router_future_method' })).toBe(1);
  });

  it('restores the client seqid and keeps pipelined calls in order', async () => {
    const call = (name: string, seqid: number, writeArgs?: (w: BinaryWriter) => void) => {
      const w = new BinaryWriter().messageBegin(name, MessageType.CALL, seqid);
      writeArgs?.(w);
      return w.fieldStop().finish();
    };
    const replies = await exchange(router.port, Buffer.concat([
      call('get_database', 111_111, args.name(db)),
      call('get_all_databases', -7),
      call('get_database', 2_000_000_000, args.name('no_such_db_at_all')),
    ]), 3);
    expect(replies.map((r) => [r.header.name, r.header.seqid])).toEqual([
      ['get_database', 111_111], ['get_all_databases', -7], ['get_database', 2_000_000_000]]);
  });

  it('accepts the old non-strict message header', async () => {
    const name = Buffer.from('get_database');
    const header = Buffer.alloc(4 + name.length + 5);
    header.writeInt32BE(name.length, 0);
    name.copy(header, 4);
    header[4 + name.length] = MessageType.CALL;
    header.writeInt32BE(99, 4 + name.length + 1);
    const body = new BinaryWriter(); args.name(db)(body); body.fieldStop();
    const [reply] = await exchange(router.port, Buffer.concat([header, body.finish()]), 1);
    expect(reply!.header.seqid).toBe(99);
    expect(reply!.header.type).toBe(MessageType.REPLY);
  });

  it('forwards a oneway call without waiting and answers the next call', async () => {
    const oneway = new BinaryWriter().messageBegin('reinitialize', MessageType.ONEWAY, 5).fieldStop().finish();
    const next = new BinaryWriter().messageBegin('getName', MessageType.CALL, 6).fieldStop().finish();
    const replies = await exchange(router.port, Buffer.concat([oneway, next]), 1);
    expect(replies[0]!.header.name).toBe('getName');
    expect(replies[0]!.header.seqid).toBe(6);
  });

  it('binds set_ugi identities to their own backend connections', async () => {
    const client = await HmsTestClient.connect(router.port);
    const groups = (await client.success('set_ugi', args.setUgi('alice', ['analysts']))) as string[];
    expect(groups).toContain('analysts');
    expect(await client.success('get_database', args.name(db))).toBeDefined();
    client.close();
    const body = await fetch(`http://127.0.0.1:${router.adminPort}/metrics`).then((r) => r.text());
    expect(body).toMatch(/hms_router_calls_total\{method="set_ugi",kind="session",metastore="rw",role="primary",outcome="ok"\} [1-9]/);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`http://127.0.0.1:${router.adminPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${router.adminPort}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${router.adminPort}/metrics`).then((r) => r.text());
    expect(metrics).toContain('hms_router_call_duration_seconds_bucket');
    expect(metrics).toMatch(/hms_router_backend_pool_connections\{metastore="rw",endpoint="127.0.0.1:\d+",state="available"\}/);
  });

  it('keeps a warm pool: connection-per-call clients reuse backend connections', async () => {
    const opened = await router.metric('hms_router_backend_connections_opened_total');
    for (let i = 0; i < 20; i++) {
      const client = await HmsTestClient.connect(router.port);
      await client.success('get_database', args.name(db));
      client.close();
    }
    // 20 short client connections cost the metastore no new connection: the warm pool serves them.
    expect(await router.metric('hms_router_backend_connections_opened_total')).toBe(opened);
    expect(await router.metric('hms_router_backend_pool_connections', { state: 'available' })).toBeGreaterThanOrEqual(1);
  });
});
