/**
 * A test client whose every reply is checked before use: it must decode, carry the seqid of the
 * call and the call's method name. A reply that does not is garbled (the router mixed up replies or
 * bytes): GarbledReply, never mistaken for an ordinary error.
 */
import type { BinaryWriter } from '../src/thrift/binary-writer';
import { MessageType, parseMessageHeader } from '../src/thrift/protocol';
import { CallResult, HmsTestClient } from '../test/support/hms-test-client';

export class GarbledReply extends Error {
  override readonly name = 'GarbledReply';
}

export class CheckedClient {
  private calls = 0;
  private constructor(private readonly client: HmsTestClient) {}

  static async connect(port: number, localAddress?: string): Promise<CheckedClient> {
    return new CheckedClient(await HmsTestClient.connect(port, 'buffered', '127.0.0.1', localAddress));
  }

  get usable(): boolean {
    return this.client.usable;
  }

  /** The reply (REPLY or EXCEPTION), checked; throws GarbledReply, or the transport's error. */
  async call(method: string, args?: (w: BinaryWriter) => void, deadlineMs = 60_000): Promise<CallResult> {
    // HmsTestClient numbers its calls 1, 2, 3...
    const seqid = ++this.calls;
    let reply: CallResult;
    try {
      reply = await this.client.call(method, args, deadlineMs);
    } catch (err) {
      if (/decode|offset|out of range|ProtocolError|malformed/i.test((err as Error).message)) throw new GarbledReply(`${method}: ${(err as Error).message}`);
      throw err;
    }
    const header = parseMessageHeader(reply.bytes, 0, reply.bytes.length);
    if (header === null) throw new GarbledReply(`${method}: reply without a complete header`);
    if (header.type !== MessageType.REPLY && header.type !== MessageType.EXCEPTION) throw new GarbledReply(`${method}: reply of message type ${header.type}`);
    if (header.seqid !== seqid) throw new GarbledReply(`${method}: reply seqid ${header.seqid}, call seqid ${seqid}`);
    if (header.name !== method) throw new GarbledReply(`${method}: reply for ${header.name}`);
    return reply;
  }

  close(): void {
    this.client.close();
  }
}

/** The exception a reply carries, as text ('' for a result): TApplicationException or a declared one. */
export function replyError(reply: CallResult): string {
  if (reply.type === MessageType.EXCEPTION) return `TApplicationException: ${String(reply.result[1])}`;
  for (const [id, value] of Object.entries(reply.result)) {
    if (id === '0') continue;
    const message = (value as Record<number, unknown> | undefined)?.[1];
    return `exception field ${id}: ${String(message)}`;
  }
  return '';
}
