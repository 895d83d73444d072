/**
 * The client side of Thrift's SASL negotiation on a connected socket (what TSaslClientTransport
 * does): START with the mechanism, the initial response, then challenge/response until the server
 * says COMPLETE. The mechanism itself (GSSAPI, DIGEST-MD5) is a small object of its own.
 */
import type { Socket } from 'node:net';
import { SaslMessageReader, SaslStatus, encodeSaslMessage, SaslFrameError } from './sasl-frames';

export interface SaslClientMechanism {
  /** The SASL mechanism name sent in START (GSSAPI, DIGEST-MD5). */
  readonly name: string;
  initialResponse(): Promise<Buffer>;
  /** Answers a server challenge; `complete` once this side has nothing more to say. */
  evaluate(challenge: Buffer): Promise<{ readonly response: Buffer; readonly complete: boolean }>;
}

export class SaslNegotiationError extends Error {
  constructor(message: string, readonly refusedByServer: boolean) {
    super(message);
  }
}

/**
 * Runs the negotiation; resolves with bytes that arrived after the server's COMPLETE (the start
 * of the data stream), or rejects with the server's or the mechanism's reason. The socket's
 * 'data' listener is removed again before it resolves.
 */
export function negotiateSaslClient(socket: Socket, mechanism: SaslClientMechanism, timeoutMs: number, peer: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const reader = new SaslMessageReader();
    let clientComplete = false;
    let busy: Promise<void> = Promise.resolve();
    let settled = false;
    const finish = (err: Error | null, rest?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err !== null) reject(err);
      else resolve(rest ?? Buffer.alloc(0));
    };
    const timer = setTimeout(() => finish(new SaslNegotiationError(
      `SASL ${mechanism.name} negotiation with ${peer} did not finish within ${timeoutMs} ms`, false)), timeoutMs);
    const onClose = () => finish(new SaslNegotiationError(
      `${peer} closed the connection during SASL ${mechanism.name} negotiation (it may not use SASL, or refused this client: see its log)`, true));
    const onError = (err: Error) => finish(new SaslNegotiationError(`SASL ${mechanism.name} negotiation with ${peer} failed: ${err.message}`, false));

    const handle = async (): Promise<void> => {
      for (;;) {
        if (settled) return;
        const message = reader.take();
        if (message === null) return;
        if (message.status === SaslStatus.BAD || message.status === SaslStatus.ERROR) {
          finish(new SaslNegotiationError(`${peer} refused SASL ${mechanism.name}: ${message.payload.toString('utf8') || '(no reason given)'}`, true));
          return;
        }
        if (message.status !== SaslStatus.OK && message.status !== SaslStatus.COMPLETE) {
          finish(new SaslNegotiationError(`${peer} sent SASL status ${message.status} during negotiation`, true));
          return;
        }
        if (message.status === SaslStatus.COMPLETE && clientComplete) {
          finish(null, reader.rest());
          return;
        }
        const { response, complete } = await mechanism.evaluate(message.payload);
        clientComplete = complete;
        if (message.status === SaslStatus.COMPLETE) {
          // The server is done; the last challenge needs no answer (Thrift's client breaks here too).
          if (!complete) {
            finish(new SaslNegotiationError(`${peer} ended SASL ${mechanism.name} before this client was satisfied`, true));
            return;
          }
          finish(null, reader.rest());
          return;
        }
        socket.write(encodeSaslMessage(complete ? SaslStatus.COMPLETE : SaslStatus.OK, response));
      }
    };
    const onData = (chunk: Buffer) => {
      reader.push(chunk);
      busy = busy.then(handle).catch((err: unknown) => {
        const reason = err instanceof SaslFrameError ? err.message : `SASL ${mechanism.name} with ${peer}: ${(err as Error).message}`;
        finish(new SaslNegotiationError(reason, false));
      });
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);

    mechanism.initialResponse().then((initial) => {
      if (settled) return;
      socket.write(Buffer.concat([
        encodeSaslMessage(SaslStatus.START, mechanism.name),
        encodeSaslMessage(SaslStatus.OK, initial),
      ]));
    }, (err: Error) => finish(new SaslNegotiationError(`SASL ${mechanism.name} to ${peer}: ${err.message}`, false)));
  });
}
