/**
 * Warm, limited pools of connections to one metastore endpoint: one pool per set_ugi
 * identity (src/backends/connection-pool.ts). A client that opens a new connection per call (Presto, Trino) borrows a warm connection
 * instead of costing the metastore a new one.
 */
import { CircuitBreaker, BreakerState } from './circuit-breaker';
import { ConnectionPool } from './connection-pool';
import { BackendConnection } from './backend-connection';
import { BackendError } from './backend-error';
import { Identity, identityKey } from './identity';
import { BinaryWriter } from '../thrift/binary-writer';
import { MessageType, TType } from '../thrift/protocol';
import { decodeStruct } from '../thrift/value-decoder';
import { MetastoreAuthenticator } from '../auth/metastore-authenticator';
import type { RouterCredentials } from '../auth/router-credentials';
import type { SaslClientMechanism } from '../auth/sasl-client';
import type { Endpoint, MetastoreConfig } from '../config/schema';
import type { Logger } from 'pino';
import type { RouterMetrics } from '../admin/metrics';

export interface PoolStats {
  readonly identity: string;
  readonly size: number;
  readonly available: number;
  readonly borrowed: number;
  readonly pending: number;
}

interface IdentityPool {
  readonly pool: ConnectionPool<BackendConnection>;
  lastUsed: number;
}

/** fb303 getStatus(): every metastore answers it cheaply, without a database. */
const GET_STATUS = new BinaryWriter().messageBegin('getStatus', MessageType.CALL, 0).fieldStop().finish();

/** The breaker gauge's values. */
const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class EndpointPool {
  private readonly pools = new Map<string, IdentityPool>();
  private lastConnectFailure: { at: number; error: BackendError } | null = null;
  /** The metastore's own set_ugi result (reply body) per identity, from the connection that sent it. */
  private readonly setUgiResults = new Map<string, Buffer>();
  /**
   * The last set_ugi the metastore refused, per identity. Like a failed connect, it ends the
   * waits of that identity's acquires and slows its next tries to one per backoff window:
   * the pool re-creates a failed connection at once, which was a loop of thousands of
   * connections a second to the metastore for as long as the acquire waited.
   */
  private readonly setUgiFailures = new Map<string, { at: number; error: BackendError }>();
  /** Acquires waiting for a connection, with the identity (key) each waits for. */
  private readonly connectFailureWaiters = new Map<(err: BackendError) => void, string>();
  private closed = false;
  /** Takes the endpoint out after consecutive failures; probes and calls bring it back. */
  readonly breaker: CircuitBreaker;
  /** Kerberos sign-in of new connections (null: plain Thrift). */
  private readonly auth: MetastoreAuthenticator | null;

  constructor(
    readonly endpoint: Endpoint,
    readonly metastore: string,
    private readonly config: MetastoreConfig,
    private readonly metrics: RouterMetrics,
    private readonly log: Logger,
    credentials: RouterCredentials | null = null,
  ) {
    const authConfig = config.authentication;
    if (authConfig.type === 'kerberos') {
      if (credentials === null) throw new Error(`metastore '${metastore}' uses kerberos but the router has no kerberos credentials configured`);
      this.auth = new MetastoreAuthenticator(authConfig, credentials, endpoint, (owner, renewer) => this.fetchDelegationToken(owner, renewer));
    } else {
      this.auth = null;
    }
    this.breaker = new CircuitBreaker(config.health, Date.now, (state, reason) => {
      this.metrics.breakerState.set({ metastore, endpoint: endpoint.address }, BREAKER_GAUGE[state]);
      if (state === 'open') this.log.warn({ metastore, endpoint: endpoint.address, reason }, 'metastore endpoint taken out (circuit breaker open)');
      else this.log.info({ metastore, endpoint: endpoint.address }, 'metastore endpoint back in use (circuit breaker closed)');
    });
    this.metrics.breakerState.set({ metastore, endpoint: endpoint.address }, 0);
    // The pool for clients without set_ugi starts warm.
    this.poolFor(null);
  }

  /**
   * False while the breaker is open or a connect failed within the backoff: callers prefer other
   * endpoints (and still try this one when none is left).
   */
  get inService(): boolean {
    return this.breaker.state !== 'open' && this.recentFailure() === null;
  }

  /**
   * Probes the endpoint on a fresh connection (so a busy pool does not hide a dead metastore, nor a
   * dead pool a live one): fb303 getStatus. Any reply, even an exception, means it serves.
   */
  async probe(): Promise<boolean> {
    const { timeoutMs } = this.config.health;
    let connection: BackendConnection | null = null;
    try {
      connection = await BackendConnection.connect(this.endpoint, {
        transport: this.config.transport, connectTimeoutMs: timeoutMs, maxReplyBytes: 1024 * 1024,
        sasl: await this.auth?.mechanismFor(null) ?? null,
      });
      await connection.call(GET_STATUS, false, timeoutMs);
      this.metrics.healthProbes.inc({ metastore: this.metastore, endpoint: this.endpoint.address, outcome: 'ok' });
      this.breaker.success();
      return true;
    } catch (err) {
      this.metrics.healthProbes.inc({ metastore: this.metastore, endpoint: this.endpoint.address, outcome: 'failed' });
      this.breaker.failure(`health probe: ${(err as Error).message}`);
      return false;
    } finally {
      connection?.destroy();
    }
  }

  get healthIntervalMs(): number {
    return this.config.health.intervalMs;
  }

  /** A call on this endpoint was answered: it works. */
  recordSuccess(): void {
    this.breaker.success();
  }

  /** A call on this endpoint was cut off (connection closed, deadline): counts toward the breaker. */
  recordFailure(error: BackendError): void {
    if (error.code === 'connection_closed' || error.code === 'deadline' || error.code === 'malformed_reply') {
      this.breaker.failure(error.message);
    }
  }

  /**
   * An idle connection of `identity`, lent synchronously; null when there is none or the endpoint
   * is failing (then acquire() waits, creates one or fails with the reason).
   */
  tryAcquire(identity: Identity | null): BackendConnection | null {
    if (this.closed || this.recentFailure() !== null || this.recentSetUgiFailure(identity) !== null) return null;
    const entry = this.pools.get(identityKey(identity));
    if (entry === undefined) return null;
    const connection = entry.pool.takeIdle();
    if (connection === undefined) return null;
    entry.lastUsed = Date.now();
    if (connection.usable) return connection;
    // Closed while idle (the metastore restarted): acquire() replaces it.
    entry.pool.destroy(connection);
    return null;
  }

  /**
   * Borrows a connection for `identity`. Fails fast with 'unreachable' while the endpoint's last
   * connect failed less than retryBackoffMs ago, so a dead metastore costs callers no wait.
   */
  async acquire(identity: Identity | null): Promise<BackendConnection> {
    if (this.closed) throw new BackendError('connection_closed', this.endpoint.address, 'the router is shutting down', false);
    const recent = this.recentFailure();
    if (recent !== null) {
      throw new BackendError('unreachable', this.endpoint.address, recent.message, false);
    }
    const refused = this.recentSetUgiFailure(identity);
    if (refused !== null) throw refused;
    const entry = this.poolFor(identity);
    entry.lastUsed = Date.now();
    // The common case: an idle connection, lent synchronously (no waiter, no race, no timer).
    const idle = entry.pool.takeIdle();
    if (idle !== undefined) {
      if (idle.usable) return idle;
      entry.pool.destroy(idle);
      return this.acquire(identity);
    }
    // The pool keeps an acquire waiting while its creates fail; a failed connect to this
    // endpoint ends the wait at once instead, with the connect error.
    const acquisition = entry.pool.acquire();
    let stopWaiting!: (err: BackendError) => void;
    const connectFailed = new Promise<never>((_, reject) => { stopWaiting = reject; });
    this.connectFailureWaiters.set(stopWaiting, identityKey(identity));
    try {
      const connection = await Promise.race([acquisition, connectFailed]);
      if (connection.usable) return connection;
      // Closed while idle (the metastore restarted): replace it.
      entry.pool.destroy(connection);
      return await this.acquire(identity);
    } catch (err) {
      // The abandoned acquire may still be granted later: hand that connection straight back.
      acquisition.then((c) => entry.pool.release(c), () => undefined);
      if (err instanceof BackendError) throw err;
      // The pool rejects (PoolTimeoutError) when every connection stayed busy, or when connects
      // kept failing for the whole wait.
      const cause = this.recentFailure();
      if (cause !== null) throw new BackendError('unreachable', this.endpoint.address, cause.message, false);
      throw new BackendError('pool_timeout', this.endpoint.address,
        `no free connection to metastore ${this.endpoint.address} within ${this.config.pool.acquireTimeoutMs} ms (all ${this.config.pool.max} busy); raise pool.max or check the metastore's latency`, false);
    } finally {
      this.connectFailureWaiters.delete(stopWaiting);
    }
  }

  /** Returns a healthy connection to its pool; a failed one is destroyed. */
  release(identity: Identity | null, connection: BackendConnection): void {
    const entry = this.pools.get(identityKey(identity));
    if (entry === undefined) {
      connection.destroy();
      return;
    }
    if (connection.usable) entry.pool.release(connection);
    else entry.pool.destroy(connection);
  }

  /**
   * A connection outside every pool, owned by one client connection (a client that changed its
   * metastore session with setMetaConf keeps its own backend connection until it disconnects).
   */
  openDedicated(identity: Identity | null): Promise<BackendConnection> {
    const recent = this.recentFailure();
    if (recent !== null) return Promise.reject(new BackendError('unreachable', this.endpoint.address, recent.message, false));
    return this.connect(identity);
  }

  /**
   * The result struct the metastore returned for set_ugi of `identity` (a metastore refuses a
   * second set_ugi on one connection, so a client's own set_ugi is answered with this).
   */
  setUgiResult(identity: Identity): Buffer | undefined {
    return this.setUgiResults.get(identityKey(identity));
  }

  stats(): PoolStats[] {
    return [...this.pools.entries()].map(([key, { pool }]) => ({
      identity: key === '' ? '(none)' : key.split('\u0000')[0]!,
      size: pool.size,
      available: pool.available,
      borrowed: pool.borrowed,
      pending: pool.pending,
    }));
  }

  /** The metastore's refusal of set_ugi for `identity` within the backoff window, if any. */
  private recentSetUgiFailure(identity: Identity | null): BackendError | null {
    if (identity === null) return null;
    const f = this.setUgiFailures.get(identityKey(identity));
    if (f === undefined || Date.now() - f.at >= this.config.timeouts.retryBackoffMs) return null;
    return f.error;
  }

  /** The error of a connect that failed within the backoff window, if any. */
  recentFailure(): BackendError | null {
    const f = this.lastConnectFailure;
    if (f === null) return null;
    if (Date.now() - f.at >= this.config.timeouts.retryBackoffMs) return null;
    return f.error;
  }

  private poolFor(identity: Identity | null): IdentityPool {
    const key = identityKey(identity);
    const existing = this.pools.get(key);
    if (existing !== undefined) return existing;
    if (this.pools.size >= this.config.pool.maxIdentities) this.closeLeastRecentlyUsedIdlePool();
    const isDefault = identity === null;
    const pool = new ConnectionPool<BackendConnection>({
      create: () => this.connect(identity),
      destroy: (connection) => connection.destroy(),
    }, {
      max: this.config.pool.max,
      min: isDefault ? this.config.pool.minIdle : 0,
      acquireTimeoutMs: this.config.pool.acquireTimeoutMs,
      idleTimeoutMs: this.config.pool.idleTimeoutMs,
      evictionRunIntervalMs: Math.min(30_000, this.config.pool.idleTimeoutMs),
      // Recorded in connect(); the acquirer gets the reason.
    });
    const entry = { pool, lastUsed: Date.now() };
    this.pools.set(key, entry);
    return entry;
  }

  private closeLeastRecentlyUsedIdlePool(): void {
    let oldest: [string, IdentityPool] | null = null;
    for (const item of this.pools) {
      if (item[0] === '' || item[1].pool.borrowed > 0 || item[1].pool.pending > 0) continue;
      if (oldest === null || item[1].lastUsed < oldest[1].lastUsed) oldest = item;
    }
    if (oldest === null) return;
    this.pools.delete(oldest[0]);
    const pool = oldest[1].pool;
    void pool.drain().then(() => pool.clear());
  }

  private async connect(identity: Identity | null): Promise<BackendConnection> {
    // While a recent connect (or this identity's set_ugi) failed, wait out the backoff before the
    // next try: the pool retries a failed create at once, which would be a busy loop.
    const key = identityKey(identity);
    const lastFailureAt = Math.max(this.lastConnectFailure?.at ?? 0, this.setUgiFailures.get(key)?.at ?? 0);
    if (lastFailureAt > 0) {
      const wait = this.config.timeouts.retryBackoffMs - (Date.now() - lastFailureAt);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (this.closed) {
      await new Promise((r) => setTimeout(r, 1000).unref());
      throw new BackendError('connection_closed', this.endpoint.address, 'the router is shutting down', false);
    }
    let connection: BackendConnection;
    try {
      connection = await this.openSignedIn(identity);
    } catch (err) {
      const error = err as BackendError;
      if (error.code === 'auth_failed' && this.auth?.impersonates(identity?.user ?? null)) {
        // The caller's token was refused or could not be had: that identity's failure, not the
        // endpoint's (others still connect).
        this.recordIdentityFailure(key, error, 'token');
        throw error;
      }
      if (this.lastConnectFailure === null) {
        this.log.warn({ metastore: this.metastore, endpoint: this.endpoint.address, err: error.message }, 'metastore endpoint unreachable');
      }
      this.lastConnectFailure = { at: Date.now(), error };
      this.breaker.failure(error.message);
      for (const stopWaiting of this.connectFailureWaiters.keys()) stopWaiting(error);
      throw error;
    }
    this.metrics.backendConnectionsOpened.inc({ metastore: this.metastore, endpoint: this.endpoint.address });
    this.breaker.success();
    if (this.lastConnectFailure !== null) {
      this.log.info({ metastore: this.metastore, endpoint: this.endpoint.address }, 'metastore endpoint reachable again');
      this.lastConnectFailure = null;
    }
    if (identity !== null) {
      try {
        await this.setUgi(connection, identity);
      } catch (err) {
        this.recordIdentityFailure(key, err as BackendError, 'set_ugi');
        throw err;
      }
      this.setUgiFailures.delete(key);
    }
    return connection;
  }

  /** An identity's connection failed (set_ugi refused, token refused): slow its next tries, end its waits. */
  private recordIdentityFailure(key: string, error: BackendError, what: 'set_ugi' | 'token'): void {
    const now = Date.now();
    for (const [k, f] of this.setUgiFailures) if (now - f.at >= this.config.timeouts.retryBackoffMs) this.setUgiFailures.delete(k);
    this.setUgiFailures.set(key, { at: now, error });
    for (const [stopWaiting, waiting] of this.connectFailureWaiters) if (waiting === key) stopWaiting(error);
    if (what === 'token') this.log.warn({ metastore: this.metastore, endpoint: this.endpoint.address, err: error.message }, 'metastore refused to sign in a caller');
  }

  /**
   * A new connection, signed in when the metastore is kerberized. A caller's token that the
   * metastore refuses (it restarted and forgot it, or it expired) is replaced once.
   */
  private async openSignedIn(identity: Identity | null): Promise<BackendConnection> {
    const user = identity?.user ?? null;
    const open = (sasl: SaslClientMechanism | null) => BackendConnection.connect(this.endpoint, {
      transport: this.config.transport,
      connectTimeoutMs: this.config.timeouts.connectMs,
      maxReplyBytes: this.config.maxReplyBytes,
      sasl,
    });
    if (this.auth === null) return open(null);
    const auth = this.auth;
    const mechanism = async () => {
      try {
        return await auth.mechanismFor(user);
      } catch (err) {
        const reason = err instanceof BackendError ? err.message : (err as Error).message;
        throw new BackendError('auth_failed', this.endpoint.address,
          `metastore ${this.endpoint.address} gave no delegation token for '${user}' to the router: ${reason}`, false);
      }
    };
    if (!auth.impersonates(user)) return this.counted('gssapi', open(await mechanism()));
    try {
      return await this.counted('digest-md5', open(await mechanism()));
    } catch (err) {
      if (!(err instanceof BackendError) || err.code !== 'auth_failed') throw err;
      auth.forget(user);
      return this.counted('digest-md5', open(await mechanism()));
    }
  }

  /** Counts a sign-in's outcome (hms_router_auth_total{side="metastore"}). */
  private async counted(mechanism: 'gssapi' | 'digest-md5', connecting: Promise<BackendConnection>): Promise<BackendConnection> {
    try {
      const connection = await connecting;
      this.metrics.authTotal.inc({ side: 'metastore', mechanism, outcome: 'ok' });
      return connection;
    } catch (err) {
      if (err instanceof BackendError && err.code === 'auth_failed') this.metrics.authTotal.inc({ side: 'metastore', mechanism, outcome: 'refused' });
      throw err;
    }
  }

  /**
   * get_delegation_token(owner, renewer) on a connection of the router's own identity: the
   * metastore checks that the router may act for `owner` (its proxy-user rules).
   */
  private async fetchDelegationToken(owner: string, renewer: string): Promise<string> {
    const request = new BinaryWriter()
      .messageBegin('get_delegation_token', MessageType.CALL, 0)
      .fieldBegin(TType.STRING, 1).string(owner)
      .fieldBegin(TType.STRING, 2).string(renewer)
      .fieldStop().finish();
    const connection = await this.acquire(null);
    let reply;
    try {
      reply = await connection.call(request, false, this.config.timeouts.callMs);
    } finally {
      this.release(null, connection);
    }
    if (reply === null) throw new Error('no reply');
    const body = decodeStruct(reply.bytes, reply.header.bodyOffset).value;
    if (reply.header.type === MessageType.EXCEPTION) throw new Error(`TApplicationException: ${String(body[1] ?? '')}`);
    if (typeof body[0] === 'string') return body[0];
    const exception = body[1];
    const message = typeof exception === 'object' && exception !== null && !Array.isArray(exception) ? (exception as Record<number, unknown>)[1] : undefined;
    throw new Error(`MetaException: ${typeof message === 'string' ? message : 'no message'}`);
  }

  /** Binds a new connection to the client's identity, as the client itself would have. */
  private async setUgi(connection: BackendConnection, identity: Identity): Promise<void> {
    const w = new BinaryWriter()
      .messageBegin('set_ugi', MessageType.CALL, 0)
      .fieldBegin(TType.STRING, 1).string(identity.user)
      .fieldBegin(TType.LIST, 2).listBegin(TType.STRING, identity.groups.length);
    for (const group of identity.groups) w.string(group);
    const request = w.fieldStop().finish();
    try {
      const reply = await connection.call(request, false, this.config.timeouts.callMs);
      if (reply === null || reply.header.type !== MessageType.REPLY) {
        throw new Error(`metastore answered set_ugi with message type ${reply?.header.type}`);
      }
      this.setUgiResults.set(identityKey(identity), Buffer.from(reply.bytes.subarray(reply.header.bodyOffset)));
    } catch (err) {
      connection.destroy();
      throw new BackendError('set_ugi_failed', this.endpoint.address,
        `set_ugi(${identity.user}) on metastore ${this.endpoint.address} failed: ${(err as Error).message}`, false);
    }
  }

  /**
   * Closes every connection. Calls still waiting for a connection fail at once; borrowed ones are
   * destroyed when returned. Bounded: a drain can wait for acquires that are doomed.
   */
  async close(): Promise<void> {
    this.closed = true;
    const shutdown = new BackendError('connection_closed', this.endpoint.address, 'the router is shutting down', false);
    for (const stopWaiting of this.connectFailureWaiters.keys()) stopWaiting(shutdown);
    await Promise.all([...this.pools.values()].map(async ({ pool }) => {
      await Promise.race([pool.drain(), new Promise((r) => setTimeout(r, 2000).unref())]);
      await pool.clear();
    }));
    this.pools.clear();
  }
}
