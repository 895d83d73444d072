/**
 * Calls that name no database but list across metastores (get_all_databases, get_databases,
 * get_table_meta): sent to every metastore in parallel, merged so each database appears once, from
 * the metastore its route points to. A metastore that fails makes the whole call fail with its name:
 * a database must not silently vanish from a listing.
 */
import type { RawMessage } from '../thrift/message-reader';
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType, TType } from '../thrift/protocol';
import { decodeStruct } from '../thrift/value-decoder';
import { findField, skipValue, stringsAtPath } from '../thrift/value-reader';
import { mergeDatabaseLists } from '../routing/fan-out-merge';
import { resolveMetastore } from '../routing/matcher';
import type { RoutingMap } from '../routing/routing-map';
import type { FanOut } from '../hms/method-entry';

export class FanOutError extends Error {
  constructor(readonly metastore: string, message: string) {
    super(message);
    this.name = 'FanOutError';
  }
}

/** Sends the same call to every metastore; rejects with FanOutError naming the first that failed. */
export async function fanOut(
  metastores: readonly string[],
  send: (metastore: string) => Promise<RawMessage>,
  kind: FanOut,
  map: RoutingMap,
  method: string,
  seqid: number,
  onPartial: (metastore: string, error: FanOutError) => void,
): Promise<Buffer> {
  const settled = await Promise.allSettled(metastores.map(async (metastore) => {
    let reply: RawMessage;
    try {
      reply = await send(metastore);
    } catch (err) {
      throw new FanOutError(metastore, `metastore '${metastore}' failed during ${method}: ${(err as Error).message}`);
    }
    const success = reply.header.type === MessageType.REPLY ? findField(reply.bytes, reply.header.bodyOffset, 0) : null;
    if (success === null) {
      const detail = JSON.stringify(decodeStruct(reply.bytes, reply.header.bodyOffset).value);
      throw new FanOutError(metastore, `metastore '${metastore}' answered ${method} with an error: ${detail}`);
    }
    return { metastore, reply, success };
  }));
  const replies = [];
  for (const result of settled) {
    if (result.status === 'fulfilled') replies.push(result.value);
    else if (map.source.fanOut === 'partial' && result.reason instanceof FanOutError) onPartial(result.reason.metastore, result.reason);
    else throw result.reason;
  }
  const w = new BinaryWriter().messageBegin(method, MessageType.REPLY, seqid);
  if (kind === 'databases') {
    const lists = new Map(replies.map(({ metastore, reply, success }) => [metastore, readStringList(reply.bytes, success.offset)]));
    const merged = mergeDatabaseLists(map, lists);
    w.fieldBegin(TType.LIST, 0).listBegin(TType.STRING, merged.length);
    for (const name of merged) w.string(name);
  } else {
    // get_table_meta: keep each TableMeta{1: dbName, 5: catName} from the metastore that owns its
    // database, as the raw bytes it came in.
    const kept: Buffer[] = [];
    for (const { metastore, reply, success } of replies) {
      const buf = reply.bytes;
      const size = buf.readInt32BE(success.offset + 1);
      let p = success.offset + 5;
      for (let i = 0; i < size; i++) {
        const end = skipValue(buf, p, TType.STRUCT);
        const [db] = stringsAtPath(buf, p, [1], 1);
        const [catalog] = stringsAtPath(buf, p, [5], 1);
        if (db !== undefined && resolveMetastore(map, db, catalog ?? null) === metastore) kept.push(buf.subarray(p, end));
        p = end;
      }
    }
    w.fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, kept.length);
    for (const item of kept) w.raw(item);
  }
  return w.fieldStop().finish();
}

function readStringList(buf: Buffer, offset: number): string[] {
  const size = buf.readInt32BE(offset + 1);
  const out: string[] = [];
  let p = offset + 5;
  for (let i = 0; i < size; i++) {
    const length = buf.readInt32BE(p);
    out.push(buf.toString('utf8', p + 4, p + 4 + length));
    p += 4 + length;
  }
  return out;
}
