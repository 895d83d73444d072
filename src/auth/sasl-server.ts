/**
 * The server side of Thrift's SASL negotiation for clients signing in to the router with Kerberos
 * (SASL GSSAPI, RFC 4752), as a kerberized metastore does it: accept the client's tokens with the
 * router's keytab, offer "no security layer" (QOP auth) wrapped, read the client's choice. The
 * result is the client's principal: its identity for pools, flow control, logs and metrics.
 *
 * Refusals go back as a SASL BAD message with the reason (Hive's client shows "Peer indicated
 * failure: <reason>"), so a client never waits for a connection the router will not serve.
 */
import type { Socket } from 'node:net';
import * as acceptor from 'gssapi-acceptor';
import { SaslMessageReader, SaslStatus, encodeSaslMessage, SaslFrameError, SaslMessage } from './sasl-frames';

/** RFC 4752 security-layer bits. */
const LAYER_NONE = 1;

export type ClientAuthFailure = 'not_sasl' | 'mechanism' | 'gssapi' | 'qop' | 'authzid' | 'timeout' | 'closed' | 'protocol';

export class ClientAuthError extends Error {
  constructor(readonly failure: ClientAuthFailure, message: string, /** Bytes received (for a plain client's first call). */ readonly received: Buffer = Buffer.alloc(0)) {
    super(message);
  }
}

export interface SignedIn {
  /** The client's principal as the KDC named it, e.g. alice@EXAMPLE.COM. */
  readonly principal: string;
  /** Bytes that came after the negotiation (the first frame). */
  readonly rest: Buffer;
}

/**
 * Runs the negotiation on a client socket. Rejects with a ClientAuthError after telling the
 * client why (except for a plain client, whose first call the caller answers).
 */
export function negotiateSaslServer(socket: Socket, timeoutMs: number): Promise<SignedIn> {
  return new Promise<SignedIn>((resolve, reject) => {
    const reader = new SaslMessageReader();
    let first: Buffer | null = null;
    /** start: waiting for START GSSAPI; context: Kerberos tokens; ack: the client's answer to the
     *  last context token; choice: the client's security-layer choice. */
    let state: 'start' | 'context' | 'ack' | 'choice' = 'start';
    let context: acceptor.AcceptorContext | null = null;
    let settled = false;
    const finish = (err: ClientAuthError | null, result?: SignedIn) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (context !== null) acceptor.release(context);
      if (err !== null) reject(err);
      else resolve(result!);
    };
    const refuse = (failure: ClientAuthFailure, reason: string) => {
      socket.write(encodeSaslMessage(SaslStatus.BAD, `hms-router: ${reason}`));
      finish(new ClientAuthError(failure, reason));
    };
    const timer = setTimeout(() => refuse('timeout', `Kerberos sign-in did not finish within ${timeoutMs} ms`), timeoutMs);
    const onClose = () => finish(new ClientAuthError('closed', 'the client closed the connection during the Kerberos sign-in'));
    const offer = (ctx: acceptor.AcceptorContext) => {
      // Offered: no security layer only, max buffer 0 (there is no layer to size).
      socket.write(encodeSaslMessage(SaslStatus.OK, acceptor.wrap(ctx, Buffer.from([LAYER_NONE, 0, 0, 0]), false)));
      state = 'choice';
    };

    const handle = (message: SaslMessage): void => {
      if (state === 'start') {
        if (message.status !== SaslStatus.START) return refuse('protocol', `expected SASL START, got status ${message.status}`);
        const mechanism = message.payload.toString('utf8');
        if (mechanism !== 'GSSAPI') {
          return refuse('mechanism', mechanism === 'DIGEST-MD5'
            ? 'SASL DIGEST-MD5 (a delegation token) is not accepted: hms-router authenticates clients with Kerberos (GSSAPI); sign in with a ticket or keytab'
            : `SASL mechanism '${mechanism}' is not supported: hms-router accepts GSSAPI (Kerberos) only`);
        }
        context = acceptor.createContext();
        state = 'context';
        return;
      }
      if (message.status === SaslStatus.BAD || message.status === SaslStatus.ERROR) {
        return finish(new ClientAuthError('gssapi', `the client gave up the sign-in: ${message.payload.toString('utf8')}`));
      }
      if (message.status !== SaslStatus.OK && message.status !== SaslStatus.COMPLETE) return refuse('protocol', `unexpected SASL status ${message.status}`);
      const ctx = context!;
      if (state === 'context') {
        let step: { token: Buffer; complete: boolean };
        try {
          step = acceptor.step(ctx, message.payload);
        } catch (err) {
          return refuse('gssapi', `Kerberos authentication failed: ${(err as Error).message}`);
        }
        if (!step.complete) {
          socket.write(encodeSaslMessage(SaslStatus.OK, step.token));
        } else if (step.token.length > 0) {
          // Mutual authentication: the client checks this token and answers before the offer.
          socket.write(encodeSaslMessage(SaslStatus.OK, step.token));
          state = 'ack';
        } else {
          offer(ctx);
        }
        return;
      }
      if (state === 'ack') return offer(ctx);
      // The client's choice: [layer][max buffer, 3 bytes][authorization id].
      let choice: Buffer;
      try {
        choice = acceptor.unwrap(ctx, message.payload).data;
      } catch (err) {
        return refuse('gssapi', `the client's security-layer choice does not verify: ${(err as Error).message}`);
      }
      if (choice.length < 4 || choice[0] !== LAYER_NONE) {
        return refuse('qop', 'the client asked for QOP auth-int or auth-conf; hms-router supports QOP auth only (hadoop.rpc.protection=authentication)');
      }
      const principal = acceptor.peerName(ctx);
      const authzid = choice.subarray(4).toString('utf8');
      if (authzid !== '' && authzid !== principal) {
        return refuse('authzid', `${principal} may not act as ${authzid}: the router takes the authenticated principal as the caller`);
      }
      socket.write(encodeSaslMessage(SaslStatus.COMPLETE, Buffer.alloc(0)));
      finish(null, { principal, rest: reader.rest() });
    };

    const onData = (chunk: Buffer) => {
      if (first === null) {
        first = chunk;
        if (chunk[0] !== SaslStatus.START) {
          return finish(new ClientAuthError('not_sasl', 'the client sent plain Thrift to a router that requires Kerberos (SASL GSSAPI)', chunk));
        }
      }
      reader.push(chunk);
      try {
        for (let m = reader.take(); m !== null && !settled; m = reader.take()) handle(m);
      } catch (err) {
        if (err instanceof SaslFrameError) refuse('protocol', err.message);
        else refuse('protocol', `sign-in failed: ${(err as Error).message}`);
      }
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
