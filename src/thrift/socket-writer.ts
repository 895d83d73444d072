/**
 * Writes one message to a socket in the given transport: as is (buffered), or after its 4-byte
 * length (framed), corked so the two parts leave in one segment.
 */
import type { Socket } from 'node:net';
import type { Transport } from './message-reader';

export function writeMessage(socket: Socket, message: Buffer, transport: Transport): void {
  if (transport !== 'framed') {
    socket.write(message);
    return;
  }
  const header = Buffer.allocUnsafe(4);
  header.writeInt32BE(message.length, 0);
  socket.cork();
  socket.write(header);
  socket.write(message);
  socket.uncork();
}
