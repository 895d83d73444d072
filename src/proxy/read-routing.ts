/**
 * The "choose replica or primary" stage of the call path: a read goes to a replica when the
 * consistency router allows, with the primary as the fallback for anything a replica cannot settle;
 * everything else goes to the primary, and a call that may have changed state there moves the
 * caller's token on.
 */
import type { Logger } from 'pino';
import type { CallInfo } from '../hms/call-info';
import type { RawMessage } from '../thrift/message-reader';
import { MessageType } from '../thrift/protocol';
import { BackendError } from '../backends/backend-error';
import type { MetastoreBackends } from '../backends/metastore-backends';
import type { RouterMetrics } from '../admin/metrics';
import type { MetastoreConfig, RouterConfig } from '../config/schema';
import type { ConsistencyRouter, FallbackReason, SessionView } from '../consistency/consistency-router';
import type { ReplicaTracker } from '../consistency/replica-tracker';
import type { GtidState } from '../consistency/gtid';
import type { ServedBy } from '../cache/cache-stage';
import type { ClientSession } from './client-session';
import type { Forwarder } from './forwarder';

export class ReadRouting {
  constructor(
    private readonly config: RouterConfig,
    private readonly backends: MetastoreBackends,
    private readonly consistency: ReadonlyMap<string, ConsistencyRouter>,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    private readonly forwarder: Forwarder,
  ) {}

  /**
   * Reads go to a replica when the consistency router allows; a replica that fails the call or
   * answers with any exception hands the read to the primary, so a sick replica costs no client
   * error and an exception a client sees is always the primary's. Everything else goes to the primary; a call that may have changed state there makes the
   * session take a fresh GTID token before its next replica read.
   */
  async route(message: RawMessage, call: CallInfo, session: ClientSession, metastore: string, oneway: boolean,
    servedBy: (served: ServedBy) => void, token?: GtidState | null): Promise<RawMessage | null> {
    const consistency = this.consistency.get(metastore);
    if (consistency !== undefined && consistency.splitting) {
      const view = sessionView(session);
      // A token the cache stage fetched decides here too (null: none is needed, as decide() finds).
      let decision = await consistency.decide(call, view, token ?? undefined);
      if (decision.role === 'replica') {
        let outcome: ReplicaOutcome | null = await this.readOnReplica(decision.replica, message, call, session, metastore, oneway);
        // (A replica that failed the read sends it to the primary either way: no need for the check.)
        if (decision.early !== undefined && outcome.fallback === undefined) {
          // An early read (the replica chosen before the store's token came back): its reply counts
          // only if the replica's position when it was sent covers that token.
          const check = await decision.early;
          this.metrics.earlyReplicaReads.inc({ metastore, outcome: check.verdict === 'covered' ? 'kept' : 'decided_again' });
          if (check.verdict === 'recheck') {
            decision = await check.redo();
            outcome = decision.role === 'replica' ? await this.readOnReplica(decision.replica, message, call, session, metastore, oneway) : null;
          }
        }
        if (outcome !== null && outcome.reply !== undefined) {
          servedBy({ role: 'replica', position: outcome.position });
          return outcome.reply;
        }
        if (outcome !== null) this.metrics.readFallbacks.inc({ metastore, reason: outcome.fallback });
        else if (decision.role === 'primary' && decision.reason !== null) this.metrics.readFallbacks.inc({ metastore, reason: decision.reason });
      } else if (decision.reason !== null) {
        this.metrics.readFallbacks.inc({ metastore, reason: decision.reason });
      }
      try {
        return await this.forwarder.forward(message, call, session, metastore, oneway, this.backends.primaryCandidates(metastore));
      } finally {
        if (call.entry === null || call.entry.mutates) await consistency.afterPrimaryWrite(view);
      }
    }
    // `return await`: an async function returning a promise as such costs two more microtask turns.
    return await this.forwarder.forward(message, call, session, metastore, oneway, this.backends.primaryCandidates(metastore));
  }

  /** One read on a replica: its reply, or why the read must go to the primary. */
  private async readOnReplica(replica: ReplicaTracker, message: RawMessage, call: CallInfo, session: ClientSession, metastore: string,
    oneway: boolean): Promise<ReplicaOutcome> {
    replica.busy += 1;
    // What the replica had executed before the read was sent: its reply reflects at least that.
    const position = replica.executed;
    const unhealthy = replica.untilUnhealthy();
    try {
      // A replica read's deadline is replicaReadTimeoutMs: past it the connection's own deadline
      // fails the call (the connection is dropped) and the read goes to the primary.
      const forwarded = this.forwarder.forward(message, call, session, metastore, oneway, [replica.pool()], replicaDeadlineMs(this.config.metastores[metastore]!));
      // A read is safe to send again: if the replica's MySQL dies while this one is in flight,
      // the primary answers now and the replica's late reply (or failure) is dropped.
      const reply = await Promise.race([forwarded, unhealthy.promise.then((): typeof ABANDONED => ABANDONED)]);
      if (reply === ABANDONED) {
        forwarded.catch(() => undefined);
        throw new Error(`replica ${replica.name}'s MySQL failed while the read was in flight: ${replica.unhealthyReason() ?? 'unhealthy'}`);
      }
      const exception = reply === null ? 'none' : replyException(reply, call.entry?.metaException);
      if (exception === 'none') return { reply, position };
      // Any exception a replica answers is settled by the primary. A MetaException means the
      // replica's metastore failed; a declared exception ("no such object") is not proof either:
      // a Hive 3 metastore whose MySQL connection just broke answers get_database with
      // NoSuchObjectException carrying the query failure (found by the soak run, while the
      // replica's MariaDB restarted), and its MySQL may answer again by the time we could look.
      return { fallback: exception === 'meta' ? 'replica_error_reply' : 'replica_exception_reply' };
    } catch (err) {
      this.log.warn({ session: session.id, method: call.method, metastore, replica: replica.name, err: (err as Error).message }, 'replica failed a read; sending it to the primary');
      return { fallback: err instanceof BackendError && err.code === 'deadline' ? 'replica_slow' : 'replica_call_failed' };
    } finally {
      unhealthy.cancel();
      replica.busy -= 1;
    }
  }
}

/** What a read on a replica gave: its reply, or why it goes to the primary. */
type ReplicaOutcome = { readonly reply: RawMessage | null; readonly position: GtidState | null; readonly fallback?: undefined }
  | { readonly reply?: undefined; readonly fallback: FallbackReason };

const ABANDONED = Symbol('abandoned replica read');

/** A replica read's deadline: replicaReadTimeoutMs, bounded by callMs (0: callMs alone). */
function replicaDeadlineMs(m: MetastoreConfig): number {
  const { replicaReadTimeoutMs } = m.consistency;
  return replicaReadTimeoutMs === 0 ? m.timeouts.callMs : Math.min(replicaReadTimeoutMs, m.timeouts.callMs);
}

/**
 * What kind of failure a reply carries: 'meta' for a TApplicationException or the method's
 * MetaException (the metastore failed), 'declared' for another declared exception (e.g. no such
 * object), 'none' for a result.
 */
function replyException(reply: RawMessage, metaExceptionField: number | undefined): 'none' | 'meta' | 'declared' {
  if (reply.header.type === MessageType.EXCEPTION) return 'meta';
  const at = reply.header.bodyOffset;
  if (reply.bytes.length < at + 3 || reply.bytes[at] === 0) return 'none';
  const field = reply.bytes.readInt16BE(at + 1);
  if (field === 0) return 'none';
  return field === metaExceptionField ? 'meta' : 'declared';
}

/** How the consistency router sees the client of a call. */
export function sessionView(session: ClientSession): SessionView {
  return { remoteAddress: session.remoteAddress, identityUser: session.identity?.user ?? null, holders: session.holders, pinned: session.dedicated.size > 0 };
}
