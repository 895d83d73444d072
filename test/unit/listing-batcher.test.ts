/**
 * The listing batcher against an in-memory metastore that answers the four calls it makes: the
 * assembled reply equals the unbatched one; no call is larger than a batch; at most `inFlight`
 * batches run at once; pacing spaces them; failures come back as the client's method would raise
 * them; anything the router cannot reproduce exactly passes through.
 */
import { describe, expect, it } from 'vitest';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, parseMessageHeader, TType } from '../../src/thrift/protocol';
import type { RawMessage } from '../../src/thrift/message-reader';
import { decodeStruct, ThriftStruct } from '../../src/thrift/value-decoder';
import { findMethod } from '../../src/hms/catalog';
import { planBatches, runListing } from '../../src/batching/listing-batcher';
import { BatchingPolicy, DEFAULT_BATCHING } from '../../src/batching/batching-policy';

function message(bytes: Buffer): RawMessage {
  return { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
}

function encodePartition(w: BinaryWriter, name: string): void {
  const values = name.split('/').map((kv) => kv.split('=')[1]!);
  w.fieldBegin(TType.LIST, 1).listBegin(TType.STRING, values.length);
  for (const v of values) w.string(v);
  w.fieldBegin(TType.STRING, 2).string('db').fieldBegin(TType.STRING, 3).string('t').fieldBegin(TType.I32, 4).i32(name.length).fieldStop();
}

interface FakeOptions {
  tableParams?: Record<string, string>;
  /** Answer the n-th get_partitions_by_names call (1-based) with this exception field, or an EXCEPTION message. */
  failBatch?: { call: number; field: number | 'application' };
}

/** An in-memory metastore: names sorted as the real one sorts them (PART_NAME, binary). */
function fakeMetastore(names: string[], options: FakeOptions = {}) {
  const sorted = [...names].sort();
  const stats = { calls: [] as Array<{ method: string; args: ThriftStruct }>, maxNames: 0, inFlight: 0, maxInFlight: 0, batchStarts: [] as number[] };
  let byNamesCalls = 0;
  const send = async (bytes: Buffer): Promise<RawMessage> => {
    const m = message(bytes);
    const args = decodeStruct(m.bytes, m.header.bodyOffset).value;
    stats.calls.push({ method: m.header.name, args });
    const w = new BinaryWriter().messageBegin(m.header.name, MessageType.REPLY, m.header.seqid);
    switch (m.header.name) {
      case 'get_partition_names': {
        const max = args[3] as number;
        const list = max < 0 ? sorted : sorted.slice(0, max);
        w.fieldBegin(TType.LIST, 0).listBegin(TType.STRING, list.length);
        for (const n of list) w.string(n);
        break;
      }
      case 'get_table_req': {
        const params = Object.entries(options.tableParams ?? {});
        w.fieldBegin(TType.STRUCT, 0).fieldBegin(TType.STRUCT, 1)
          .fieldBegin(TType.LIST, 8).listBegin(TType.STRUCT, 1).fieldBegin(TType.STRING, 1).string('k').fieldBegin(TType.STRING, 2).string('string').fieldStop()
          .fieldBegin(TType.MAP, 9).mapBegin(TType.STRING, TType.STRING, params.length);
        for (const [k, v] of params) w.string(k).string(v);
        w.fieldStop().fieldStop();
        break;
      }
      case 'get_partitions_by_names': {
        const callNumber = ++byNamesCalls;
        const wanted = new Set(args[3] as string[]);
        stats.maxNames = Math.max(stats.maxNames, wanted.size);
        stats.batchStarts.push(Date.now());
        stats.inFlight += 1;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        await new Promise((r) => setTimeout(r, 2));
        stats.inFlight -= 1;
        if (options.failBatch?.call === callNumber) {
          if (options.failBatch.field === 'application') {
            return message(new BinaryWriter().messageBegin(m.header.name, MessageType.EXCEPTION, m.header.seqid)
              .fieldBegin(TType.STRING, 1).string('boom').fieldBegin(TType.I32, 2).i32(6).fieldStop().finish());
          }
          w.fieldBegin(TType.STRUCT, options.failBatch.field).fieldBegin(TType.STRING, 1).string('table gone').fieldStop();
          break;
        }
        const found = sorted.filter((n) => wanted.has(n));
        w.fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, found.length);
        for (const n of found) encodePartition(w, n);
        break;
      }
      default:
        throw new Error(`unexpected call ${m.header.name}`);
    }
    return message(w.fieldStop().finish());
  };
  /** The reply the metastore itself would give to get_partitions(max). */
  const unbatched = (method: string, max = -1): ThriftStruct => {
    const list = max < 0 ? sorted : sorted.slice(0, max);
    const w = new BinaryWriter().fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, list.length);
    for (const n of list) encodePartition(w, n);
    return decodeStruct(w.fieldStop().finish(), 0).value;
  };
  return { send, stats, unbatched };
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `k=v${String(i).padStart(5, '0')}`);
}

function getPartitions(max = -1, method = 'get_partitions', seqid = 77): RawMessage {
  const w = new BinaryWriter().messageBegin(method, MessageType.CALL, seqid)
    .fieldBegin(TType.STRING, 1).string('db').fieldBegin(TType.STRING, 2).string('t').fieldBegin(TType.I16, 3).i16(max);
  if (method === 'get_partitions_with_auth') w.fieldBegin(TType.STRING, 4).string('u').fieldBegin(TType.LIST, 5).listBegin(TType.STRING, 0);
  return message(w.fieldStop().finish());
}

function getPartitionsByNames(list: readonly string[]): RawMessage {
  const w = new BinaryWriter().messageBegin('get_partitions_by_names', MessageType.CALL, 5)
    .fieldBegin(TType.STRING, 1).string('db').fieldBegin(TType.STRING, 2).string('t').fieldBegin(TType.LIST, 3).listBegin(TType.STRING, list.length);
  for (const n of list) w.string(n);
  return message(w.fieldStop().finish());
}

const policy = (p: Partial<BatchingPolicy>): BatchingPolicy => ({ ...DEFAULT_BATCHING, ...p });

function decodeReply(chunks: Buffer[]): { header: RawMessage['header']; result: ThriftStruct } {
  const m = message(Buffer.concat(chunks));
  return { header: m.header, result: decodeStruct(m.bytes, m.header.bodyOffset).value };
}

describe('planBatches', () => {
  it('covers every item once, in order, in runs of at most the batch size', () => {
    expect(planBatches(0, 10)).toEqual([]);
    expect(planBatches(10, 10)).toEqual([[0, 10]]);
    expect(planBatches(11, 5)).toEqual([[0, 5], [5, 10], [10, 11]]);
  });
});

describe('runListing', () => {
  const entry = findMethod('get_partitions')!;

  it('assembles exactly the unbatched reply, with the client\'s method and seqid', async () => {
    const fake = fakeMetastore(names(1234).reverse());
    const result = await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 100, batchSize: 100, inFlight: 3 }), fake.send);
    expect(result.kind).toBe('batched');
    if (result.kind !== 'batched') return;
    const reply = decodeReply(result.chunks);
    expect(reply.header).toMatchObject({ name: 'get_partitions', type: MessageType.REPLY, seqid: 77 });
    expect(reply.result).toEqual(fake.unbatched('get_partitions'));
    expect(result).toMatchObject({ partitions: 1234, batches: 13, failed: false });
    expect(fake.stats.maxNames).toBeLessThanOrEqual(100);
    expect(fake.stats.maxInFlight).toBe(3);
  });

  it('honours max_parts', async () => {
    const fake = fakeMetastore(names(500));
    const result = await runListing(getPartitions(321), entry, entry.listing!, policy({ threshold: 100, batchSize: 64 }), fake.send);
    expect(result.kind === 'batched' && decodeReply(result.chunks).result).toEqual(fake.unbatched('get_partitions', 321));
  });

  it('passes small listings through after one name listing', async () => {
    const fake = fakeMetastore(names(100));
    const result = await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 100 }), fake.send);
    expect(result).toMatchObject({ kind: 'pass', reason: 'small' });
    expect(fake.stats.calls.map((c) => c.method)).toEqual(['get_partition_names']);
  });

  it('spaces batches by pauseMs', async () => {
    const fake = fakeMetastore(names(50));
    await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 10, batchSize: 10, inFlight: 1, pauseMs: 15 }), fake.send);
    const gaps = fake.stats.batchStarts.slice(1).map((t, i) => t - fake.stats.batchStarts[i]!);
    expect(gaps).toHaveLength(4);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(14);
  });

  it('a batch answering NoSuchObjectException becomes the client method\'s own NoSuchObjectException field', async () => {
    // get_partitions_by_names: (1: MetaException, 2: NoSuchObjectException); get_partitions: (1: NoSuchObject, 2: Meta).
    const fake = fakeMetastore(names(300), { failBatch: { call: 2, field: 2 } });
    const result = await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 10, batchSize: 100, inFlight: 1 }), fake.send);
    expect(result.kind === 'batched' && result.failed).toBe(true);
    if (result.kind !== 'batched') return;
    const reply = decodeReply(result.chunks);
    expect(reply.header).toMatchObject({ name: 'get_partitions', type: MessageType.REPLY, seqid: 77 });
    expect(reply.result).toEqual({ 1: { 1: 'table gone' } });
    // No batch is started after the failure.
    expect(fake.stats.calls.filter((c) => c.method === 'get_partitions_by_names')).toHaveLength(2);
  });

  it('a batch answering MetaException becomes the client method\'s MetaException field', async () => {
    const fake = fakeMetastore(names(300), { failBatch: { call: 1, field: 1 } });
    const result = await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 10, batchSize: 100, inFlight: 1 }), fake.send);
    expect(result.kind === 'batched' && decodeReply(result.chunks).result).toEqual({ 2: { 1: 'table gone' } });
  });

  it('a TApplicationException is answered as one for the client\'s method', async () => {
    const fake = fakeMetastore(names(300), { failBatch: { call: 1, field: 'application' } });
    const result = await runListing(getPartitions(), entry, entry.listing!, policy({ threshold: 10, batchSize: 100 }), fake.send);
    if (result.kind !== 'batched') throw new Error('expected a batched failure');
    const reply = decodeReply(result.chunks);
    expect(reply.header).toMatchObject({ name: 'get_partitions', type: MessageType.EXCEPTION, seqid: 77 });
    expect(reply.result).toEqual({ 1: 'boom', 2: 6 });
  });

  it('with_auth: tables with partition-level privileges pass through; max_parts 0 lists every name (the metastore reads it as no limit)', async () => {
    const withAuth = findMethod('get_partitions_with_auth')!;
    const privileged = fakeMetastore(names(300), { tableParams: { PARTITION_LEVEL_PRIVILEGE: 'true' } });
    expect(await runListing(getPartitions(-1, 'get_partitions_with_auth'), withAuth, withAuth.listing!, policy({ threshold: 10 }), privileged.send))
      .toMatchObject({ kind: 'pass', reason: 'partition_privileges' });
    const plain = fakeMetastore(names(300));
    const result = await runListing(getPartitions(0, 'get_partitions_with_auth'), withAuth, withAuth.listing!, policy({ threshold: 10, batchSize: 100 }), plain.send);
    expect(plain.stats.calls[0]!.args[3]).toBe(-1);
    expect(result.kind === 'batched' && decodeReply(result.chunks).result).toEqual(plain.unbatched('get_partitions_with_auth'));
  });

  it('get_partitions_by_names: batches of sorted distinct names give the metastore\'s name order', async () => {
    const byNames = findMethod('get_partitions_by_names')!;
    const all = names(400);
    const fake = fakeMetastore(all);
    const asked = [...all.slice(200), ...all.slice(0, 200), all[3]!, 'k=missing'];
    const result = await runListing(getPartitionsByNames(asked), byNames, byNames.listing!, policy({ threshold: 100, batchSize: 64 }), fake.send);
    expect(result.kind === 'batched' && decodeReply(result.chunks).result).toEqual(fake.unbatched('get_partitions_by_names'));
    expect(fake.stats.maxNames).toBeLessThanOrEqual(64);
  });

  it('get_partitions_by_names: short lists and names the collation may treat unlike bytes pass through without any call', async () => {
    const byNames = findMethod('get_partitions_by_names')!;
    const fake = fakeMetastore([]);
    expect(await runListing(getPartitionsByNames(names(100)), byNames, byNames.listing!, policy({ threshold: 100 }), fake.send)).toMatchObject({ reason: 'small' });
    for (const odd of ['k=é', 'k=v00001 ', 'k=a\tb']) {
      expect(await runListing(getPartitionsByNames([...names(200), odd]), byNames, byNames.listing!, policy({ threshold: 100 }), fake.send))
        .toMatchObject({ reason: 'collation_sensitive_names' });
    }
    expect(fake.stats.calls).toEqual([]);
  });
});
