/**
 * One client connection: split its bytes into messages, answer them in order, one at a time (an HMS
 * client waits for each reply), reply in the transport the client chose. A malformed or oversized
 * message closes this connection only, with a log line and a metric.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { MessageReader, RawMessage, Transport } from '../thrift/message-reader';
import { MessageType, ProtocolError } from '../thrift/protocol';
import { writeMessage } from '../thrift/socket-writer';
import type { RouterMetrics } from '../admin/metrics';
import type { CallHandler } from './call-handler';
import type { ClientSession } from './client-session';
import { applicationExceptionReply, AppErrorType } from '../thrift/error-replies';
import { ClientAuthError, SignedIn } from '../auth/sasl-server';

export interface ClientConnectionOptions {
  readonly maxMessageBytes: number;
  readonly maxQueuedCalls: number;
}

/** Signs a client in before its first call (server.authentication kerberos). */
export type ClientAuthenticator = (socket: Socket) => Promise<SignedIn>;

export class ClientConnection {
  private reader: MessageReader;
  private readonly queue: RawMessage[] = [];
  private busy = false;
  private closed = false;
  private paused = false;
  private draining = false;
  private countedTransport = false;
  private readonly openedAt = Date.now();
  private callsAnswered = 0;
  /** Resolves once the connection is closed and its last call has finished. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly socket: Socket,
    readonly session: ClientSession,
    private readonly handler: CallHandler,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    private readonly options: ClientConnectionOptions,
    authenticate: ClientAuthenticator | null = null,
    private readonly authTimeoutMs = 10_000,
  ) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    this.reader = new MessageReader({ transport: 'detect', maxMessageBytes: options.maxMessageBytes });
    socket.setNoDelay(true);
    socket.on('error', () => { /* 'close' follows; resets by clients are routine */ });
    socket.on('close', () => this.onClose());
    metrics.clientConnections.inc();
    log.info({ session: session.id, client: session.remoteAddress }, 'client connected');
    if (authenticate === null) {
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      return;
    }
    authenticate(socket).then((signedIn) => this.onSignedIn(signedIn), (err: unknown) => this.onSignInFailed(err));
  }

  /**
   * A Kerberos client: its principal is its identity (set_ugi no longer changes it, as on a
   * kerberized metastore), and after the negotiation its stream is length-prefixed frames.
   */
  private onSignedIn({ principal, rest }: SignedIn): void {
    this.metrics.authTotal.inc({ side: 'client', mechanism: 'gssapi', outcome: 'ok' });
    this.session.principal = principal;
    this.session.identity = { user: principal, groups: [] };
    this.log.info({ session: this.session.id, client: this.session.remoteAddress, principal }, 'client signed in with Kerberos');
    this.reader = new MessageReader({ transport: 'framed', maxMessageBytes: this.options.maxMessageBytes });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (rest.length > 0) this.onData(rest);
  }

  private onSignInFailed(err: unknown): void {
    const failure = err instanceof ClientAuthError ? err.failure : 'protocol';
    const reason = (err as Error).message;
    this.metrics.authTotal.inc({ side: 'client', mechanism: failure === 'not_sasl' ? 'none' : 'gssapi', outcome: 'refused' });
    this.log.warn({ session: this.session.id, client: this.session.remoteAddress, failure, reason }, 'client refused: Kerberos sign-in failed');
    if (!(err instanceof ClientAuthError) || failure !== 'not_sasl') {
      this.socket.end(); // after the refusal the negotiation wrote
      return;
    }
    // A plain Thrift client: every call it makes is answered with the reason (Hive's client
    // swallows a failed set_ugi and would otherwise report only a closed connection on its next
    // call), and the connection is closed after authTimeoutMs.
    const refusal = 'hms-router requires Kerberos: this connection is plain Thrift; sign in with SASL GSSAPI '
      + '(Hive clients: hive.metastore.sasl.enabled=true, hive.metastore.kerberos.principal=<the router\'s principal>, and a Kerberos login)';
    const closer = setTimeout(() => this.socket.end(), this.authTimeoutMs).unref();
    this.socket.once('close', () => clearTimeout(closer));
    const answer = (chunk: Buffer) => {
      let messages: RawMessage[];
      try {
        messages = this.reader.push(chunk);
      } catch {
        this.socket.destroy();
        return;
      }
      for (const m of messages) {
        if (m.header.type === MessageType.ONEWAY) continue;
        writeMessage(this.socket, applicationExceptionReply(m.header.name, m.header.seqid, AppErrorType.INTERNAL_ERROR, refusal),
          this.reader.transport ?? 'buffered');
      }
    };
    this.socket.on('data', answer);
    answer(err.received);
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Stops reading new calls; the call in flight (and those already queued) still get answers. */
  drain(): void {
    this.draining = true;
    this.socket.pause();
    this.paused = true;
    if (this.idle) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let messages: RawMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.onProtocolError(err);
      return;
    }
    if (!this.countedTransport && this.reader.transport !== null) {
      this.countedTransport = true;
      this.metrics.clientConnectionsTotal.inc({ transport: this.reader.transport });
    }
    for (const message of messages) {
      const type = message.header.type;
      if (type !== MessageType.CALL && type !== MessageType.ONEWAY) {
        this.onProtocolError(new ProtocolError('bad_header', `client sent message type ${type} (${message.header.name}); only calls are accepted`));
        return;
      }
      this.queue.push(message);
    }
    if (this.queue.length >= this.options.maxQueuedCalls && !this.paused) {
      // Back-pressure: a client pipelining calls waits in its own socket buffer.
      this.socket.pause();
      this.paused = true;
    }
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const message = this.queue.shift();
    if (message === undefined) {
      if (this.draining) this.socket.end();
      else if (this.paused) { this.paused = false; this.socket.resume(); }
      return;
    }
    this.busy = true;
    void this.handler.handle(message, this.session).then((reply) => {
      this.busy = false;
      if (reply !== null && !this.closed) writeMessage(this.socket, reply, this.reader.transport ?? 'buffered');
      this.callsAnswered += 1;
      if (this.closed) this.resolveDone();
      else this.pump();
    });
  }

  private onProtocolError(err: unknown): void {
    const reason = err instanceof ProtocolError ? err.reason : 'unknown';
    this.metrics.protocolErrors.inc({ reason });
    this.log.warn({ session: this.session.id, client: this.session.remoteAddress, reason, err: (err as Error).message },
      'closing client connection: malformed request');
    this.queue.length = 0;
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.metrics.clientConnections.dec();
    for (const connection of this.session.dedicated.values()) connection.destroy();
    this.session.dedicated.clear();
    this.log.info({ session: this.session.id, client: this.session.remoteAddress, calls: this.callsAnswered,
      ms: Date.now() - this.openedAt }, 'client disconnected');
    if (!this.busy) this.resolveDone();
  }
}

export type { Transport };
