/**
 * One connection to a metastore endpoint. It carries one call at a time: write the request, read
 * exactly one reply message, within a deadline. Owned by its pool; a connection that failed in any
 * way is never reused.
 */
import { Socket, connect } from 'node:net';
import { MessageReader, RawMessage, Transport } from '../thrift/message-reader';
import { ProtocolError } from '../thrift/protocol';
import { writeMessage } from '../thrift/socket-writer';
import { BackendError } from './backend-error';
import { negotiateSaslClient, SaslClientMechanism } from '../auth/sasl-client';
import type { Endpoint } from '../config/schema';

export interface BackendConnectionOptions {
  readonly transport: Transport;
  readonly connectTimeoutMs: number;
  readonly maxReplyBytes: number;
  /** Local address to connect from (tests and benchmarks that play several client hosts). */
  readonly localAddress?: string;
  /**
   * SASL mechanism to sign in with before the first call (a kerberized metastore). After the
   * negotiation the stream is length-prefixed frames, whatever `transport` says.
   */
  readonly sasl?: SaslClientMechanism | null;
}

interface PendingCall {
  resolve(reply: RawMessage): void;
  reject(err: BackendError): void;
  deadlineMs: number;
}

export class BackendConnection {
  private readonly reader: MessageReader;
  private pending: PendingCall | null = null;
  private failed = false;
  /**
   * One timer per connection, re-armed for each call (cheaper than a new timer per call). It may
   * fire while idle; it only acts on a call that is still pending past its deadline.
   */
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineTimerMs = 0;
  private callStartedAt = 0;
  /** Calls completed on this connection; a reused connection is one that served a call before. */
  callsServed = 0;
  readonly createdAt = Date.now();

  private readonly transport: Transport;

  private constructor(private readonly socket: Socket, readonly endpoint: Endpoint, private readonly options: BackendConnectionOptions) {
    this.transport = options.sasl ? 'framed' : options.transport;
    this.reader = new MessageReader({ transport: this.transport, maxMessageBytes: options.maxReplyBytes, checkFrames: false });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail('connection_closed', `connection to ${endpoint.address} failed: ${err.message}`));
    socket.on('close', () => this.fail('connection_closed', `metastore ${endpoint.address} closed the connection`));
  }

  static connect(endpoint: Endpoint, options: BackendConnectionOptions): Promise<BackendConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: endpoint.host, port: endpoint.port, localAddress: options.localAddress });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BackendError('connect_timeout', endpoint.address,
          `metastore ${endpoint.address} did not accept a connection within ${options.connectTimeoutMs} ms; check that it is running and reachable`, false));
      }, options.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        if (!options.sasl) {
          resolve(new BackendConnection(socket, endpoint, options));
          return;
        }
        const mechanism = options.sasl;
        negotiateSaslClient(socket, mechanism, options.connectTimeoutMs, `metastore ${endpoint.address}`).then((rest) => {
          const connection = new BackendConnection(socket, endpoint, options);
          if (rest.length > 0) connection.onData(rest);
          resolve(connection);
        }, (err: Error) => {
          socket.destroy();
          reject(new BackendError('auth_failed', endpoint.address, err.message, false));
        });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new BackendError('connect_failed', endpoint.address,
          `cannot connect to metastore ${endpoint.address}: ${err.code ?? err.message}; check that it is running and listening there`, false));
      });
    });
  }

  /** False once the connection failed, closed or was destroyed. */
  get usable(): boolean {
    return !this.failed && !this.socket.destroyed && this.pending === null;
  }

  /**
   * Sends one request (the message bytes, unframed) and resolves with the reply message, or null
   * for a oneway call once the bytes are handed to the socket.
   */
  call(request: Buffer, oneway: boolean, deadlineMs: number, expectedReplyBytes?: number): Promise<RawMessage | null> {
    if (!this.usable) {
      return Promise.reject(new BackendError('connection_closed', this.endpoint.address,
        `connection to metastore ${this.endpoint.address} is closed`, false));
    }
    if (expectedReplyBytes !== undefined && !oneway) this.reader.reserve(expectedReplyBytes);
    writeMessage(this.socket, request, this.transport);
    if (oneway) {
      this.callsServed += 1;
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, deadlineMs };
      this.callStartedAt = performance.now();
      this.armDeadline(deadlineMs);
    });
  }

  private armDeadline(deadlineMs: number): void {
    if (this.deadlineTimer !== null && this.deadlineTimerMs === deadlineMs) {
      this.deadlineTimer.refresh();
      return;
    }
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimerMs = deadlineMs;
    this.deadlineTimer = setTimeout(() => this.onDeadlineTimer(), deadlineMs).unref();
  }

  private onDeadlineTimer(): void {
    const pending = this.pending;
    if (pending === null) return;
    const elapsed = performance.now() - this.callStartedAt;
    if (elapsed + 1 >= pending.deadlineMs) {
      this.fail('deadline', `metastore ${this.endpoint.address} did not answer within ${pending.deadlineMs} ms`);
    } else {
      this.deadlineTimer = setTimeout(() => this.onDeadlineTimer(), pending.deadlineMs - elapsed).unref();
    }
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  private onData(chunk: Buffer): void {
    let messages: RawMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      const reason = err instanceof ProtocolError ? err.message : String(err);
      this.fail('malformed_reply', `metastore ${this.endpoint.address} sent a malformed reply: ${reason}`);
      return;
    }
    for (const message of messages) {
      const pending = this.pending;
      if (pending === null) {
        this.fail('malformed_reply', `metastore ${this.endpoint.address} sent a message nobody asked for (${message.header.name})`);
        return;
      }
      this.pending = null;
      this.callsServed += 1;
      pending.resolve(message);
    }
  }

  private fail(code: 'deadline' | 'connection_closed' | 'malformed_reply', message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.socket.destroy();
    this.disarmDeadline();
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      pending.reject(new BackendError(code, this.endpoint.address, message, true));
    }
  }

  /** Bytes of a reply received so far but not complete (a call's progress). */
  get pendingReplyBytes(): number {
    return this.reader.pendingBytes;
  }

  destroy(): void {
    this.failed = true;
    this.disarmDeadline();
    this.socket.destroy();
  }
}
