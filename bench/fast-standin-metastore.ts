/**
 * A stand-in for a Hive metastore, for the capacity benchmark only: it answers a few methods with
 * fixed reply bytes recorded from the real metastore (the client's seqid written in), so it costs
 * next to nothing per call and the router is what the benchmark measures. fb303 getStatus is
 * answered ALIVE (the router's health probes); any other method gets a TApplicationException.
 *
 * Run as its own process: tsx bench/fast-standin-metastore.ts PORT REPLIES_JSON
 * where REPLIES_JSON maps a method name to its recorded reply message as base64. Prints 'ready'.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { MessageReader, RawMessage } from '../src/thrift/message-reader';
import { MessageType, TType, parseMessageHeader } from '../src/thrift/protocol';
import { BinaryWriter } from '../src/thrift/binary-writer';
import { applicationExceptionReply, AppErrorType } from '../src/thrift/error-replies';

interface Template { readonly bytes: Buffer; readonly seqidOffset: number }

const [port, repliesFile] = [Number(process.argv[2]), process.argv[3]!];
const templates = new Map<string, Template>();
for (const [method, base64] of Object.entries(JSON.parse(readFileSync(repliesFile, 'utf8')) as Record<string, string>)) {
  const bytes = Buffer.from(base64, 'base64');
  const header = parseMessageHeader(bytes, 0, bytes.length);
  if (header === null) throw new Error(`recorded reply of ${method} has no message header`);
  templates.set(method, { bytes, seqidOffset: header.seqidOffset });
}
// fb303 getStatus -> fb_status ALIVE (2).
const status = new BinaryWriter().messageBegin('getStatus', MessageType.REPLY, 0).fieldBegin(TType.I32, 0).i32(2).fieldStop().finish();
templates.set('getStatus', { bytes: status, seqidOffset: parseMessageHeader(status, 0, status.length)!.seqidOffset });

function reply(message: RawMessage): Buffer | null {
  if (message.header.type === MessageType.ONEWAY) return null;
  const template = templates.get(message.header.name);
  if (template === undefined) {
    return applicationExceptionReply(message.header.name, message.header.seqid, AppErrorType.UNKNOWN_METHOD,
      `the stand-in metastore does not answer ${message.header.name}`);
  }
  // A copy per reply: the socket may still hold the previous one.
  const bytes = Buffer.allocUnsafe(template.bytes.length);
  template.bytes.copy(bytes);
  bytes.writeInt32BE(message.header.seqid, template.seqidOffset);
  return bytes;
}

createServer((socket) => {
  socket.setNoDelay(true);
  const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 64 * 1024 * 1024 });
  socket.on('data', (chunk: Buffer) => {
    let messages: RawMessage[];
    try {
      messages = reader.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const m of messages) {
      const bytes = reply(m);
      if (bytes !== null) socket.write(bytes);
    }
  });
  socket.on('error', () => socket.destroy());
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
