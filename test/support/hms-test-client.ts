/**
 * A small HMS client for tests, built on the project's own codec: encode a call with BinaryWriter,
 * read the reply with the same message reader the router uses, decode it generically.
 */
import { BackendConnection } from '../../src/backends/backend-connection';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType } from '../../src/thrift/protocol';
import { decodeStruct, ThriftStruct } from '../../src/thrift/value-decoder';
import type { RawMessage, Transport } from '../../src/thrift/message-reader';
import type { SaslClientMechanism } from '../../src/auth/sasl-client';

export interface CallResult {
  /** REPLY (2) or EXCEPTION (3). */
  readonly type: number;
  readonly seqid: number;
  /** The result struct (field 0 = success, others = declared exceptions), or the TApplicationException. */
  readonly result: ThriftStruct;
  readonly bytes: Buffer;
}

export class HmsTestClient {
  private seqid = 0;
  private constructor(private readonly connection: BackendConnection) {}

  /** `sasl`: sign in first (a kerberized metastore), e.g. with a GssapiClientMechanism. */
  static async connect(port: number, transport: Transport = 'buffered', host = '127.0.0.1', localAddress?: string,
    sasl?: SaslClientMechanism): Promise<HmsTestClient> {
    const connection = await BackendConnection.connect({ host, port, address: `${host}:${port}` },
      { transport, connectTimeoutMs: 5000, maxReplyBytes: 1 << 30, localAddress, sasl });
    return new HmsTestClient(connection);
  }

  async call(method: string, writeArgs: (w: BinaryWriter) => void = () => {}, deadlineMs = 60_000): Promise<CallResult> {
    const seqid = ++this.seqid;
    const w = new BinaryWriter().messageBegin(method, MessageType.CALL, seqid);
    writeArgs(w);
    const reply = await this.connection.call(w.fieldStop().finish(), false, deadlineMs);
    if (reply === null) throw new Error('no reply');
    return { type: reply.header.type, seqid: reply.header.seqid, result: decodeStruct(reply.bytes, reply.header.bodyOffset).value, bytes: reply.bytes };
  }

  /** The reply as it came, not decoded (for large replies a benchmark only measures). */
  async raw(method: string, writeArgs: (w: BinaryWriter) => void = () => {}, deadlineMs = 600_000): Promise<RawMessage> {
    const w = new BinaryWriter().messageBegin(method, MessageType.CALL, ++this.seqid);
    writeArgs(w);
    const reply = await this.connection.call(w.fieldStop().finish(), false, deadlineMs);
    if (reply === null) throw new Error('no reply');
    return reply;
  }

  /** The success value, or throws with the exception's message. */
  async success(method: string, writeArgs?: (w: BinaryWriter) => void): Promise<unknown> {
    const r = await this.call(method, writeArgs);
    if (r.type === MessageType.EXCEPTION) throw new Error(`${method}: TApplicationException: ${String(r.result[1])}`);
    for (const [id, value] of Object.entries(r.result)) {
      if (id !== '0') throw new Error(`${method}: exception in field ${id}: ${JSON.stringify(value, bigintJson)}`);
    }
    return r.result[0];
  }

  get usable(): boolean {
    return this.connection.usable;
  }

  close(): void {
    this.connection.destroy();
  }
}

export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

// Argument writers for the calls tests make (field ids from the HMS IDL).
export const args = {
  createDatabase: (name: string, location: string) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRUCT, 1)
      .fieldBegin(TType.STRING, 1).string(name)
      .fieldBegin(TType.STRING, 2).string(`created by a test`)
      .fieldBegin(TType.STRING, 3).string(location)
      .fieldBegin(TType.MAP, 4).mapBegin(TType.STRING, TType.STRING, 0)
      .fieldStop();
  },
  name: (name: string) => (w: BinaryWriter) => { w.fieldBegin(TType.STRING, 1).string(name); },
  /** alter_database(1: dbname, 2: Database) with the given parameters. */
  alterDatabase: (name: string, location: string, params: Record<string, string>) => (w: BinaryWriter) => {
    const entries = Object.entries(params);
    w.fieldBegin(TType.STRING, 1).string(name)
      .fieldBegin(TType.STRUCT, 2)
      .fieldBegin(TType.STRING, 1).string(name)
      .fieldBegin(TType.STRING, 2).string('created by a test')
      .fieldBegin(TType.STRING, 3).string(location)
      .fieldBegin(TType.MAP, 4).mapBegin(TType.STRING, TType.STRING, entries.length);
    for (const [k, v] of entries) w.string(k).string(v);
    w.fieldStop();
  },
  dropDatabase: (name: string) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(name).fieldBegin(TType.BOOL, 2).bool(true).fieldBegin(TType.BOOL, 3).bool(true);
  },
  setUgi: (user: string, groups: string[]) => (w: BinaryWriter) => {
    w.fieldBegin(TType.STRING, 1).string(user).fieldBegin(TType.LIST, 2).listBegin(TType.STRING, groups.length);
    for (const g of groups) w.string(g);
  },
};
