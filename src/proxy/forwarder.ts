/**
 * The forward stage of the call path: the request's bytes to one of a metastore's endpoints (the
 * first that takes it), on a pooled connection of the caller's identity or the caller's own one, and
 * the reply back. A read is safe to send to the next endpoint whatever happened; a write never twice.
 */
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType } from '../thrift/protocol';
import type { RawMessage } from '../thrift/message-reader';
import { BackendError } from '../backends/backend-error';
import type { EndpointPool } from '../backends/endpoint-pool';
import type { BackendConnection } from '../backends/backend-connection';
import type { Identity } from '../backends/identity';
import type { CallInfo } from '../hms/call-info';
import type { RouterConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';
import type { ClientSession } from './client-session';

/** Methods that change the metastore connection's own settings; the client keeps that connection. */
const CONNECTION_SETTING_METHODS = new Set(['setMetaConf']);

export class Forwarder {
  constructor(private readonly config: RouterConfig, private readonly metrics: RouterMetrics) {}

  async forward(message: RawMessage, call: CallInfo, session: ClientSession, metastore: string, oneway: boolean,
    candidates: readonly EndpointPool[], deadline = this.config.metastores[metastore]!.timeouts.callMs): Promise<RawMessage | null> {
    let lastError: BackendError | null = null;
    for (const pool of candidates) {
      if (message.header.name === 'set_ugi' && session.identity !== null) {
        try {
          return await this.answerSetUgi(pool, message, session.identity);
        } catch (err) {
          lastError = err as BackendError;
          continue;
        }
      }
      // A connection this client owns (after setMetaConf) serves all its calls to that endpoint.
      const owned = session.dedicated.get(pool.endpoint.address);
      if (owned !== undefined) {
        if (owned.usable) return owned.call(message.bytes, oneway, deadline, message.expectedReplyBytes);
        // The metastore session with the client's settings is gone; later calls use the pool.
        session.dedicated.delete(pool.endpoint.address);
      }
      if (CONNECTION_SETTING_METHODS.has(message.header.name)) {
        const connection = await pool.openDedicated(session.identity);
        session.dedicated.set(pool.endpoint.address, connection);
        return connection.call(message.bytes, oneway, deadline, message.expectedReplyBytes);
      }
      // An idle pooled connection is taken synchronously; otherwise acquire waits, creates or fails.
      let connection = pool.tryAcquire(session.identity);
      try {
        connection ??= await pool.acquire(session.identity);
      } catch (err) {
        // Nothing was sent: the next endpoint may take the call, write or not.
        lastError = err as BackendError;
        continue;
      }
      try {
        const reply = await this.callOn(pool, connection, message, call, session, oneway, deadline);
        pool.recordSuccess();
        return reply;
      } catch (err) {
        const error = err instanceof BackendError ? err : new BackendError('connection_closed', pool.endpoint.address, String(err), false);
        pool.recordFailure(error);
        // HA: a read is safe to send to the next endpoint whatever happened to it here; a write
        // that reached the metastore may have executed, so it is never sent again.
        if (call.entry === null || call.entry.mutates || oneway) throw error;
        lastError = error;
        continue;
      } finally {
        pool.release(session.identity, connection);
      }
    }
    throw lastError ?? new BackendError('unreachable', '?', `metastore '${metastore}' has no endpoint`, false);
  }

  /**
   * set_ugi binds an identity to a metastore connection, once: the pooled connections of this
   * identity already sent it. The client gets the metastore's own answer to that set_ugi.
   */
  private async answerSetUgi(pool: EndpointPool, message: RawMessage, identity: Identity): Promise<RawMessage> {
    let result = pool.setUgiResult(identity);
    if (result === undefined) {
      pool.release(identity, await pool.acquire(identity));
      result = pool.setUgiResult(identity);
    }
    if (result === undefined) throw new BackendError('set_ugi_failed', pool.endpoint.address, 'set_ugi result unavailable', false);
    const w = new BinaryWriter(result.length + 32).messageBegin('set_ugi', MessageType.REPLY, message.header.seqid);
    const bodyOffset = w.length;
    const bytes = w.raw(result).finish();
    return { bytes, header: { name: 'set_ugi', type: MessageType.REPLY, seqid: message.header.seqid, seqidOffset: bodyOffset - 4, bodyOffset, strict: true } };
  }

  private async callOn(pool: EndpointPool, connection: BackendConnection, message: RawMessage, call: CallInfo,
    session: ClientSession, oneway: boolean, deadline: number): Promise<RawMessage | null> {
    try {
      return await connection.call(message.bytes, oneway, deadline, message.expectedReplyBytes);
    } catch (err) {
      const error = err as BackendError;
      // A pooled connection the metastore closed while it sat idle fails on first use with no reply
      // byte. A read is safe to send again on a fresh connection; a write might have executed.
      const retryable = error.code === 'connection_closed' && connection.callsServed > 0
        && call.entry !== null && !call.entry.mutates && !oneway;
      if (!retryable) throw error;
      this.metrics.backendRetries.inc({ metastore: pool.metastore, endpoint: pool.endpoint.address });
      const fresh = await pool.acquire(session.identity);
      try {
        return await fresh.call(message.bytes, oneway, deadline, message.expectedReplyBytes);
      } finally {
        pool.release(session.identity, fresh);
      }
    }
  }
}
