/**
 * Writes one message to a socket in the given transport: as is (buffered), or after its 4-byte
 * length (framed), corked so the parts leave together. A message may come in parts (a batched
 * listing is assembled from the metastore's own bytes): the parts are written as they are, never
 * copied into one buffer, so a large reply costs its size once.
 */
import type { Socket } from 'node:net';
import type { Transport } from './message-reader';

/** One message: a buffer, or its parts in order. */
export type MessageBytes = Buffer | readonly Buffer[];

export function messageLength(message: MessageBytes): number {
  if (Buffer.isBuffer(message)) return message.length;
  let total = 0;
  for (const part of message) total += part.length;
  return total;
}

export function writeMessage(socket: Socket, message: MessageBytes, transport: Transport): void {
  if (transport !== 'framed' && Buffer.isBuffer(message)) {
    socket.write(message);
    return;
  }
  socket.cork();
  if (transport === 'framed') {
    const header = Buffer.allocUnsafe(4);
    header.writeInt32BE(messageLength(message), 0);
    socket.write(header);
  }
  if (Buffer.isBuffer(message)) socket.write(message);
  else for (const part of message) socket.write(part);
  socket.uncork();
}
