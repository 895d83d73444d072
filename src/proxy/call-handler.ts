/**
 * The path of one call, a sequence of stages, each in its own room:
 *   describe      src/hms/call-info.ts              the catalog entry and the names the call carries
 *   authenticate  src/auth/ (on the connection)     the caller's principal; set_ugi's identity here
 *   federate      federate() + src/routing/         the metastore, or why the router refuses the call
 *   admit         src/flow/flow-control.ts          flow control by priority
 *   cache         src/cache/cache-stage.ts          a hot read answered from memory (lookupCache())
 *   batch         src/batching/listing-batcher.ts   a large listing as bounded calls
 *   choose        ./read-routing.ts                 replica or primary
 *   forward       ./forwarder.ts                    the bytes to an endpoint and the reply back
 * This file runs them in that order (handle, serve) and turns every failure into a well-formed
 * Thrift error naming its cause.
 */
import type { Logger } from 'pino';
import { describeCall, CallInfo } from '../hms/call-info';
import { RawMessage, toStrictMessage } from '../thrift/message-reader';
import { MessageType } from '../thrift/protocol';
import { applicationExceptionReply, AppErrorType, metaExceptionReply } from '../thrift/error-replies';
import { parseDbName } from '../hms/db-name';
import type { FanOut } from '../hms/method-entry';
import type { RoutingMap } from '../routing/routing-map';
import { blockedMessage, blockedReason, resolveMetastore, writeAllowed } from '../routing/matcher';
import { fanOut, FanOutError } from './fan-out';
import { Forwarder } from './forwarder';
import { ReadRouting, sessionView } from './read-routing';
import { stringsAtPath } from '../thrift/value-reader';
import { BackendError } from '../backends/backend-error';
import type { MetastoreBackends } from '../backends/metastore-backends';
import type { RouterMetrics } from '../admin/metrics';
import type { CacheConfig, RouterConfig } from '../config/schema';
import type { ClientSession } from './client-session';
import type { ConsistencyRouter } from '../consistency/consistency-router';
import { MessageBytes } from '../thrift/socket-writer';
import { parseMessageHeader } from '../thrift/protocol';
import type { ListingShape } from '../hms/method-entry';
import type { BatchingPolicy } from '../batching/batching-policy';
import { runListing, SubCall } from '../batching/listing-batcher';
import { classify } from '../flow/flow-policy';
import { credentialCallDecision } from '../auth/credential-calls';
import type { Admission, FlowControl, ThrottleReason } from '../flow/flow-control';
import type { CacheLookup, CacheStage, ServedBy } from '../cache/cache-stage';
import type { GtidState } from '../consistency/gtid';

const THROTTLE_TEXT: Record<ThrottleReason, string> = {
  pressure: 'the metastore is under pressure',
  class_concurrency: 'the class is at its concurrency limit',
  class_rate: 'the class is over its rate limit',
};

/** Where a call goes: a metastore, and why the router refuses it or that it acts as itself. */
type Target = { metastore: string; refusal?: undefined; asRouter?: undefined }
  | { metastore: string; refusal: string }
  | { metastore: string; asRouter: true };

/** The session as seen by a call the router makes with its own identity (no caller identity, no owned connections). */
function asRouter(session: ClientSession): ClientSession {
  return { ...session, identity: null, dedicated: new Map() };
}

export class CallHandler {
  /** Metastores in the config (fixed for the process: only routing and batching reload). */
  private readonly metastoreCount: number;

  /** The forward stage: bytes to an endpoint and back. */
  private readonly forwarder: Forwarder;
  /** The replica-or-primary stage. */
  private readonly reads: ReadRouting;

  constructor(
    private readonly config: RouterConfig,
    private readonly backends: MetastoreBackends,
    private readonly consistency: ReadonlyMap<string, ConsistencyRouter>,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    private readonly flowControl: FlowControl,
    /** The active routing map; replaced whole on reload (a call keeps the map it started with). */
    private routing: RoutingMap,
    /** Batching settings per metastore; they reload with the routing map. */
    private batching: ReadonlyMap<string, BatchingPolicy> = new Map(Object.entries(config.metastores).map(([name, m]) => [name, m.batching])),
    /** The metadata cache stage (src/cache/), when a metastore has a cache. */
    private readonly cache: CacheStage | null = null,
  ) {
    this.metastoreCount = Object.keys(config.metastores).length;
    this.forwarder = new Forwarder(config, metrics);
    this.reads = new ReadRouting(config, backends, consistency, metrics, log, this.forwarder);
  }

  setRoutingMap(map: RoutingMap): void {
    this.routing = map;
  }

  setBatching(policies: ReadonlyMap<string, BatchingPolicy>): void {
    this.batching = policies;
  }

  get batchingPolicies(): ReadonlyMap<string, BatchingPolicy> {
    return this.batching;
  }

  get cachePolicies(): ReadonlyMap<string, CacheConfig> {
    return this.cache?.policies ?? new Map(Object.entries(this.config.metastores).map(([name, m]) => [name, m.cache]));
  }

  setCachePolicies(policies: ReadonlyMap<string, CacheConfig>): void {
    this.cache?.setPolicies(policies);
  }

  get routingMap(): RoutingMap {
    return this.routing;
  }

  /** Resolves with the reply bytes to send (unframed), or null for a oneway call. Never rejects. */
  async handle(received: RawMessage, session: ClientSession): Promise<MessageBytes | null> {
    const started = performance.now();
    const message = toStrictMessage(received);
    const { header } = message;
    const oneway = header.type === MessageType.ONEWAY;
    const map = this.routing;
    let call: CallInfo;
    let target: Target;
    try {
      call = describeCall(message);
      // A Kerberos client is its principal; set_ugi does not change that (nor does it on a kerberized metastore).
      if (header.name === 'set_ugi' && session.principal === null) session.identity = readIdentity(message);
      target = this.federate(message, call, map, session);
    } catch (err) {
      // The arguments do not parse: answer like a metastore would to a malformed call.
      return oneway ? null : applicationExceptionReply(header.name, header.seqid, AppErrorType.PROTOCOL_ERROR,
        `hms-router: malformed arguments for ${header.name}: ${(err as Error).message}`);
    }
    const kind = call.entry?.kind ?? 'unknown';
    if (call.entry === null) this.metrics.countUnknownMethod(header.name);

    if ('refusal' in target) {
      this.metrics.recordCall(call.entry === null ? '(unknown)' : header.name, kind, target.metastore, 'router', 'refused', 0);
      this.log.info({ session: session.id, method: header.name, db: call.db, reason: target.refusal }, 'call refused');
      return oneway ? null : methodErrorReply(header.name, header.seqid, call, `hms-router: ${target.refusal}`);
    }
    const metastore = target.metastore;
    // Flow control: session calls (set_ugi, setMetaConf) are connection bookkeeping, never held.
    let admission: Admission | null = null;
    if (map.flow !== null && kind !== 'session') {
      const cls = classify(map.flow, { user: session.identity?.user ?? null, address: session.remoteAddress, kind });
      admission = await this.flowControl.admit(map.flow, metastore, cls);
      if (!admission.ok) {
        const reason = THROTTLE_TEXT[admission.reason];
        this.metrics.recordCall(call.entry === null ? '(unknown)' : header.name, kind, metastore, 'router', 'throttled', admission.waitedMs / 1000);
        this.log.info({ session: session.id, method: header.name, metastore, class: cls.name, reason: admission.reason, waitedMs: Math.round(admission.waitedMs) }, 'call throttled');
        return oneway ? null : methodErrorReply(header.name, header.seqid, call,
          `hms-router: throttled, retry later (class '${cls.name}', metastore '${metastore}': ${reason}, waited ${Math.round(admission.waitedMs)} ms)`);
      }
    }
    const admitted = admission;
    const startedWork = performance.now();
    const answered = { fromMemory: false };
    try {
      // The metastore answers a oneway message of any method but fb303's oneway ones: that reply is
      // awaited (the backend connection stays in step for its next call) and dropped.
      // A credential call the router makes with its own principal (see credential-calls.ts).
      const caller = 'asRouter' in target ? asRouter(session) : session;
      const reply = await this.serve(message, call, caller, map, metastore, oneway && call.entry?.oneway === true, started, answered);
      return oneway ? null : reply;
    } finally {
      // Batched listings and fan-outs are many calls, and an answer from memory is none: their time
      // says nothing of the metastore's latency (which flow control watches for pressure).
      const single = call.entry?.listing === undefined && call.entry?.fanOut === undefined && !answered.fromMemory;
      if (admitted?.ok === true) admitted.release(single ? performance.now() - startedWork : null);
    }
  }

  private async serve(message: RawMessage, call: CallInfo, session: ClientSession, map: RoutingMap, metastore: string,
    oneway: boolean, started: number, answered: { fromMemory: boolean }): Promise<MessageBytes | null> {
    const { header } = message;
    const kind = call.entry?.kind ?? 'unknown';
    if (call.entry?.fanOut !== undefined && this.metastoreCount > 1 && !oneway) {
      return this.fanOut(message, call, session, map, call.entry.fanOut, started);
    }
    let role: 'primary' | 'replica' | 'cache' = 'primary';
    let outcome = 'ok';
    const listing = call.entry?.listing;
    const policy = this.batching.get(metastore);
    try {
      // The cache stage: a hot read answered from memory, or its token and an answer to keep on the way back.
      const cached = oneway ? null : await this.lookupCache(message, call, session, metastore);
      if (cached?.lookup.kind === 'hit') {
        role = 'cache';
        answered.fromMemory = true;
        return cached.lookup.reply;
      }
      if (listing !== undefined && policy !== undefined && policy.enabled && !oneway) {
        const batched = await this.batchedListing(message, call, session, metastore, listing, policy, (served) => { role = served; }, cached?.token);
        if (batched !== null) {
          if (batched.failed) outcome = 'error';
          return batched.chunks;
        }
      }
      let servedBy: ServedBy = { role: 'primary' };
      let reply: RawMessage | null;
      try {
        reply = await this.reads.route(message, call, session, metastore, oneway, (served) => { servedBy = served; role = served.role; }, cached?.token);
      } finally {
        // A call that may have changed the metastore (even one that failed: it may have run) holds
        // this client's cached reads back until the feed has read past it.
        if (this.cache !== null && (call.entry === null || call.entry.mutates)) this.cache.afterWrite(metastore, session);
      }
      if (cached?.lookup.kind === 'miss') cached.lookup.remember(reply, servedBy);
      if (reply !== null) {
        if (reply.header.type === MessageType.EXCEPTION) outcome = 'error';
        // The reply must carry the client's seqid whatever the backend did with it.
        reply.bytes.writeInt32BE(header.seqid, reply.header.seqidOffset);
        return reply.bytes;
      }
      return null;
    } catch (err) {
      outcome = 'router_error';
      const error = err instanceof BackendError ? err : new BackendError('connection_closed', '?', String(err), true);
      this.metrics.backendErrors.inc({ metastore, endpoint: error.endpoint, code: error.code });
      this.log.warn({ session: session.id, method: header.name, metastore, endpoint: error.endpoint, code: error.code, err: error.message }, 'backend call failed');
      if (oneway) return null;
      return applicationExceptionReply(header.name, header.seqid, AppErrorType.INTERNAL_ERROR,
        `hms-router: metastore '${metastore}' could not serve ${header.name}: ${error.message}`);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.metrics.recordCall(call.entry === null ? '(unknown)' : header.name, kind, metastore, role, outcome, seconds);
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ session: session.id, method: header.name, kind, db: call.db, metastore, role, outcome, ms: seconds * 1000 }, 'call');
      }
    }
  }

  /**
   * The cache stage's part: for a read the cache handles, the read's token (fetched once, then used
   * by the replica choice too) and the lookup's verdict. Null for every other call.
   */
  private async lookupCache(message: RawMessage, call: CallInfo, session: ClientSession, metastore: string): Promise<{ lookup: CacheLookup; token: GtidState | null | undefined } | null> {
    if (this.cache === null || !this.cache.handles(metastore, call)) return null;
    const consistency = this.consistency.get(metastore);
    const token = consistency === undefined ? null : await consistency.readToken(call, sessionView(session));
    return { lookup: this.cache.lookup(metastore, message, call, session, token), token: token === 'unavailable' ? undefined : token ?? undefined };
  }

  /**
   * Which metastore serves the call, or why the router refuses it: a blocked database, a write the
   * metastore's access does not allow, or a call whose databases live on different metastores.
   */
  private federate(message: RawMessage, call: CallInfo, map: RoutingMap, session: ClientSession): Target {
    const metastore = resolveMetastore(map, call.db, call.catalog);
    const entry = call.entry;
    if (entry === null) return { metastore };
    const named = call.db === null ? [] : [call.db];
    // Lists (add_partitions, lock components) and rename targets may name further databases.
    if (entry.db !== undefined && entry.db.includes('*')) {
      named.push(...stringsAtPath(message.bytes, message.header.bodyOffset, entry.db).map((raw) => (parseDbName(raw).db ?? '').toLowerCase()));
    }
    for (const path of entry.otherDbs ?? []) {
      named.push(...stringsAtPath(message.bytes, message.header.bodyOffset, path).map((raw) => (parseDbName(raw).db ?? '').toLowerCase()));
    }
    for (const db of new Set(named)) {
      if (db === '') continue;
      const reason = blockedReason(map, db);
      if (reason !== null) return { metastore, refusal: blockedMessage(db, reason) };
      const other = resolveMetastore(map, db, call.catalog);
      if (other !== metastore) {
        return { metastore, refusal: `${call.method} spans databases on metastores '${metastore}' and '${other}' (${call.db} and ${db}); split it into calls per metastore` };
      }
    }
    if (entry.mutates && entry.kind !== 'session') {
      const decision = writeAllowed(map, metastore, call.db);
      if (!decision.allowed) return { metastore, refusal: `${call.method} refused: ${decision.reason}` };
    }
    const credentials = credentialCallDecision(entry, message, metastore, this.config.metastores[metastore], session.principal);
    if (credentials !== null && 'refusal' in credentials) return { metastore, refusal: credentials.refusal };
    return credentials === null ? { metastore } : { metastore, asRouter: true };
  }

  private async fanOut(message: RawMessage, call: CallInfo, session: ClientSession, map: RoutingMap, kind: FanOut, started: number): Promise<Buffer> {
    const { header } = message;
    let outcome = 'ok';
    try {
      return await fanOut(Object.keys(this.config.metastores),
        (metastore) => this.fanOutPart(message, call, session, metastore),
        kind, map, header.name, header.seqid, (metastore, error) => {
          this.metrics.partialFanOuts.inc({ method: header.name, metastore });
          this.log.warn({ session: session.id, method: header.name, metastore, err: error.message }, 'partial fan-out: answering without this metastore');
        });
    } catch (err) {
      outcome = 'router_error';
      const metastore = err instanceof FanOutError ? err.metastore : '?';
      this.log.warn({ session: session.id, method: header.name, metastore, err: (err as Error).message }, 'fan-out failed');
      return methodErrorReply(header.name, header.seqid, call, `hms-router: ${(err as Error).message}`);
    } finally {
      this.metrics.recordCall(header.name, call.entry?.kind ?? 'unknown', '*', 'primary', outcome, (performance.now() - started) / 1000);
    }
  }

  /** One metastore's part of a fan-out: from its cache when it has one that may answer, else from its primary. */
  private async fanOutPart(message: RawMessage, call: CallInfo, session: ClientSession, metastore: string): Promise<RawMessage> {
    const cached = await this.lookupCache(message, call, session, metastore);
    if (cached?.lookup.kind === 'hit') {
      const bytes = cached.lookup.reply;
      return { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
    }
    const reply = (await this.forwarder.forward(message, call, session, metastore, false, this.backends.primaryCandidates(metastore)))!;
    if (cached?.lookup.kind === 'miss') cached.lookup.remember(reply, { role: 'primary' });
    return reply;
  }

  /**
   * A large partition listing as bounded calls, each routed like any read. Null when the listing
   * passes through unchanged (small, or not exactly reproducible by batches).
   */
  private async batchedListing(message: RawMessage, call: CallInfo, session: ClientSession, metastore: string,
    shape: ListingShape, policy: BatchingPolicy, servedBy: (role: 'primary' | 'replica') => void, token: GtidState | null | undefined): Promise<{ chunks: Buffer[]; failed: boolean } | null> {
    const started = performance.now();
    const roles = new Set<'primary' | 'replica'>();
    const send: SubCall = async (bytes, expectedReplyBytes) => {
      const sub: RawMessage = { bytes, header: parseMessageHeader(bytes, 0, bytes.length)!, expectedReplyBytes };
      const reply = await this.reads.route(sub, describeCall(sub), session, metastore, false, (served) => roles.add(served.role), token);
      return reply!;
    };
    const result = await runListing(message, call.entry!, shape, policy, send);
    if (result.kind === 'pass') {
      this.metrics.listings.inc({ metastore, method: call.method, plan: `pass_${result.reason}` });
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ session: session.id, method: call.method, db: call.db, table: call.table, reason: result.reason, detail: result.detail }, 'listing passed through');
      }
      return null;
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.listings.inc({ metastore, method: call.method, plan: result.failed ? 'batched_error' : 'batched' });
    this.metrics.listingBatches.inc({ metastore }, result.batches);
    this.metrics.listingPartitions.inc({ metastore }, result.partitions);
    this.metrics.listingDuration.observe({ metastore }, seconds);
    servedBy(roles.has('primary') ? 'primary' : 'replica');
    this.log.info({ session: session.id, method: call.method, db: call.db, table: call.table, metastore, partitions: result.partitions,
      batches: result.batches, failed: result.failed, ms: Math.round(seconds * 1000) }, 'batched listing');
    return { chunks: result.chunks, failed: result.failed };
  }
}

/**
 * An error the client shows: the method's own MetaException when it declares one, else a
 * TApplicationException.
 */
function methodErrorReply(method: string, seqid: number, call: CallInfo, text: string): Buffer {
  const field = call.entry?.metaException;
  return field === undefined ? applicationExceptionReply(method, seqid, AppErrorType.INTERNAL_ERROR, text)
    : metaExceptionReply(method, seqid, field, text);
}

function readIdentity(message: RawMessage): { user: string; groups: string[] } | null {
  const [user] = stringsAtPath(message.bytes, message.header.bodyOffset, [1], 1);
  if (user === undefined) return null;
  const groups = stringsAtPath(message.bytes, message.header.bodyOffset, [2, '*']);
  return { user, groups };
}
