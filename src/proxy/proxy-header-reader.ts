/**
 * Reads the PROXY protocol header off a new socket (server.proxyProtocol) and gives back the
 * client's own address; the bytes after the header are put back on the socket for the connection.
 */
import type { Socket } from 'node:net';
import { parseProxyHeader } from './proxy-protocol';

export class ProxyHeaderError extends Error {
  override readonly name = 'ProxyHeaderError';
}

/** Resolves with "address:port" of the client (the socket's own when the header names none). */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<string> {
  const own = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (err: Error | null, source?: string) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (err !== null) reject(err); else resolve(source!);
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered);
      if (header.state === 'incomplete') return;
      if (header.state === 'error') return finish(new ProxyHeaderError(header.message));
      socket.pause();
      const rest = buffered.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      finish(null, header.source ?? own);
    };
    const onClose = () => finish(new ProxyHeaderError('connection closed before its PROXY protocol header was complete'));
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no complete PROXY protocol header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
