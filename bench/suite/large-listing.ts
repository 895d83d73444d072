/**
 * The large listing workload: get_partitions(db, tbl, -1) on the batching benchmark's table of
 * 100,000 partitions (bench/large-table.ts, its own MariaDB and metastore, cached), one call per
 * round on a new connection. The reply is checked by size against a direct reference call (decoding
 * 90 MB in the client would measure the client).
 */
import { MessageType, TType } from '../../src/thrift/protocol';
import type { BinaryWriter } from '../../src/thrift/binary-writer';
import { HmsTestClient } from '../../test/support/hms-test-client';
import type { Workload } from './measure';

function getPartitionsArgs(db: string, table: string) {
  return (w: BinaryWriter) => { w.fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table).fieldBegin(TType.I16, 3).i16(-1); };
}

/** The reply body size of the direct call: every system must answer with exactly as many bytes. */
export async function referenceReplyBytes(port: number, db: string, table: string): Promise<number> {
  const c = await HmsTestClient.connect(port);
  try {
    const reply = await c.raw('get_partitions', getPartitionsArgs(db, table));
    if (reply.header.type !== MessageType.REPLY) throw new Error('get_partitions: the reference call failed');
    return reply.bytes.length - reply.header.bodyOffset;
  } finally {
    c.close();
  }
}

export function largeListingWorkload(db: string, table: string, partitions: number, expectedBodyBytes: number): Workload {
  return {
    part: 'large-listing',
    name: `get_partitions(-1) of ${partitions.toLocaleString('en')} partitions`,
    description: `one call per round on a new connection; ${(expectedBodyBytes / 2 ** 20).toFixed(1)} MiB reply`,
    concurrency: 1,
    connectionPerCall: true,
    call: async (c) => {
      const reply = await c.raw('get_partitions', getPartitionsArgs(db, table));
      const body = reply.bytes.length - reply.header.bodyOffset;
      if (reply.header.type !== MessageType.REPLY || body !== expectedBodyBytes) {
        throw new Error(`get_partitions: ${reply.header.type === MessageType.REPLY ? '' : 'exception, '}${body} reply bytes, direct answered ${expectedBodyBytes}`);
      }
    },
    notes: ['hms-router batches it (threshold 5000, batches of 5000, 2 in flight: its defaults); Waggle Dance passes it through',
      'each round is one call; throughput is calls per second'],
  };
}
