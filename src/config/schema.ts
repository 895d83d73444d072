/**
 * The router's configuration file, validated with zod. Every key has a default except the
 * metastores; an error names the bad key and why.
 */
import { z } from 'zod';
import { batchingSchema } from '../batching/batching-policy';

const WORKERS_MESSAGE = 'expected a positive whole number of worker processes (1 = a single process), or auto (one per core)';

const hostPort = z.string().regex(/^(thrift:\/\/)?[^\s:/]+:\d{1,5}$/, 'expected host:port (or thrift://host:port)');

const poolSchema = z.strictObject({
  /** Idle connections kept open per endpoint for clients without set_ugi (warm pool). */
  minIdle: z.number().int().min(0).default(2),
  /** Most connections to one endpoint for one identity. */
  max: z.number().int().min(1).default(64),
  /** Idle connections above minIdle are closed after this long. */
  idleTimeoutMs: z.number().int().min(1000).default(300_000),
  /** How long a call waits for a free connection when all `max` are busy. */
  acquireTimeoutMs: z.number().int().min(1).default(10_000),
  /** Distinct set_ugi identities with their own pools per endpoint; the least recently used idle one is closed beyond this. */
  maxIdentities: z.number().int().min(1).default(256),
}).prefault({});

const timeoutsSchema = z.strictObject({
  connectMs: z.number().int().min(1).default(5_000),
  /** Deadline of one backend call, from sending the request to the last byte of the reply. */
  callMs: z.number().int().min(1).default(120_000),
  /** After a failed connect, new connects to that endpoint wait this long (calls fail fast meanwhile). */
  retryBackoffMs: z.number().int().min(0).default(1_000),
}).prefault({});

const healthSchema = z.strictObject({
  /** How often each HMS endpoint is probed (a fresh connection and an fb303 getStatus call). */
  intervalMs: z.number().int().min(100).default(5000),
  /** A probe that takes longer than this failed. */
  timeoutMs: z.number().int().min(10).default(2000),
  /** Consecutive failures (probes, connects, calls cut off) that take an endpoint out. */
  failureThreshold: z.number().int().min(1).default(3),
  /** How long an endpoint stays out before a trial probe or call may bring it back. */
  openMs: z.number().int().min(100).default(10_000),
}).prefault({});

/** The MySQL (or MariaDB) server whose GTID position tells what an HMS endpoint can see. */
const mysqlSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(3306),
  user: z.string(),
  /** Never logged and never shown by the admin API. */
  password: z.string().default(''),
});

const replicaSchema = z.strictObject({
  /** Shown in metrics and logs. */
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'replica names are letters, digits, _ and -'),
  /** Read-only HMS endpoints that read from this replica's MySQL. */
  endpoints: z.array(hostPort).min(1, 'a replica needs at least one HMS endpoint'),
  mysql: mysqlSchema,
});

const consistencySchema = z.strictObject({
  /**
   * session: a session is one client connection; client: a client address plus set_ugi user, kept
   * for clientTtlMs; strict: every read needs the primary's GTID as of that read; off: no split.
   */
  mode: z.enum(['session', 'client', 'strict', 'off']).default('session'),
  /** How long a read may wait for a replica to reach the session's GTID before using the primary. */
  maxWaitMs: z.number().int().min(0).default(200),
  /** client mode: how long a client's token is remembered after its last call. */
  clientTtlMs: z.number().int().min(1000).default(300_000),
  /** How often each replica's GTID, lag and health are polled (between on-demand reads). */
  pollIntervalMs: z.number().int().min(50).default(1000),
  /** A MySQL query (GTID read or wait) that takes longer than this marks that server unhealthy. */
  queryTimeoutMs: z.number().int().min(10).default(2000),
  /**
   * The deadline of a read on a replica: past it that backend connection is closed and the read is
   * sent to the primary (reads are safe to send twice). A replica HMS whose MariaDB just came back
   * retries on its dead JDBC connections for ~20 s (Hive's RetryingHMSHandler: 10 tries, 2 s apart)
   * while its MySQL already answers the router's polls. 0: wait up to timeouts.callMs.
   */
  replicaReadTimeoutMs: z.number().int().min(0).default(5000),
}).prefault({});

/**
 * How the router signs in to a metastore. kerberos: SASL GSSAPI as the router's own principal
 * (top-level `kerberos`); a caller with an identity is impersonated with a delegation token the
 * metastore issues to the router as a Hadoop proxy user (SASL DIGEST-MD5), so the metastore
 * authorizes and records the caller.
 */
const metastoreAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('kerberos'),
    /** The metastore's service principal (hive.metastore.kerberos.principal); _HOST is the endpoint's host. */
    principal: z.string().regex(/^[^/@\s]+\/[^/@\s]+@[^/@\s]+$/, 'expected service/host@REALM (e.g. hive/_HOST@EXAMPLE.COM)'),
    /**
     * token: callers with an identity act as themselves through delegation tokens (needs
     * hadoop.proxyuser.<router>.hosts/groups on the metastore); router: every call acts as the
     * router's principal (the metastore records the router, not the caller).
     */
    impersonation: z.enum(['token', 'router']).default('token'),
    /** A caller's token is reused for new connections this long, then a fresh one is fetched (tokens live 24 h by default). */
    tokenReuseMs: z.number().int().min(1000).default(3_600_000),
  }),
]).default({ type: 'none' });

/**
 * The metadata cache (src/cache/): hot reads answered from memory, never older than the caller's
 * token nor than maxLagMs behind the metastore's change feed. enabled, maxBytes, maxLagMs and
 * callerIndependent reload with the routing map; the feed is opened at start.
 */
export const cacheSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Memory for cached replies; the least recently used entries leave beyond it. */
  maxBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
  /** An answer from the cache reflects the metastore as of at most this long ago (the feed's last complete read). */
  maxLagMs: z.number().int().min(10).default(1000),
  /**
   * true: the metastore's answers do not depend on who asks (no filter hook, no authorization that
   * trims results), so callers share entries. false: entries are keyed by the caller's identity too.
   */
  callerIndependent: z.boolean().default(false),
  /** The change feed: the metastore's notification log, read from its primary MySQL. */
  feed: z.strictObject({
    /** The metastore's schema (database) on that MySQL. */
    database: z.string().min(1),
    /** Defaults to primary.mysql; needs SELECT on the schema (and, for MariaDB, the binlog enabled). */
    mysql: mysqlSchema.optional(),
    /** How often the log is read when it is caught up. */
    pollIntervalMs: z.number().int().min(10).default(100),
    /** Most events one read takes; more are read at once in further reads. */
    batchSize: z.number().int().min(1).default(1000),
    /** A feed query slower than this failed (the cache stops answering until a read succeeds). */
    queryTimeoutMs: z.number().int().min(10).default(2000),
  }).optional(),
}).prefault({});

const metastoreSchema = z.strictObject({
  /** How the router authenticates to this metastore. */
  authentication: metastoreAuthSchema,
  primary: z.strictObject({
    endpoints: z.array(hostPort).min(1, 'a metastore needs at least one primary endpoint'),
    /** The primary's MySQL: needed for read/write split (replicas), unused otherwise. */
    mysql: mysqlSchema.optional(),
  }),
  replicas: z.array(replicaSchema).default([]),
  consistency: consistencySchema,
  /** The transport the router speaks to this metastore (clients may use either). */
  transport: z.enum(['buffered', 'framed']).default('buffered'),
  pool: poolSchema,
  timeouts: timeoutsSchema,
  /** Health probes and circuit breakers of the HMS endpoints. */
  health: healthSchema,
  /** Large partition listings split into bounded calls (reloadable, like the routing map). */
  batching: batchingSchema,
  /** Hot reads from the router's memory (off unless enabled, and only with a feed). */
  cache: cacheSchema,
  /** Largest reply accepted from this metastore. */
  maxReplyBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024 - 1),
});

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(9083),
    /** Largest request (or frame) a client may send; a larger one closes that connection. */
    maxMessageBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
    /** Calls a client may pipeline before the router stops reading its socket. */
    maxQueuedCalls: z.number().int().min(1).default(64),
    /** How long shutdown waits for calls in flight. */
    drainTimeoutMs: z.number().int().min(0).default(30_000),
    /**
     * none: plain Thrift, the caller's identity is its set_ugi user. kerberos: every client signs
     * in with SASL GSSAPI (the router's principal and keytab: top-level `kerberos`); its principal
     * is its identity, and plain clients are refused with the reason.
     */
    authentication: z.enum(['none', 'kerberos']).default('none'),
    /** A client's Kerberos sign-in (and its PROXY protocol header) must finish within this. */
    authTimeoutMs: z.number().int().min(100).default(10_000),
    /**
     * true: every connection starts with a PROXY protocol header (v1 or v2, e.g. HAProxy
     * send-proxy-v2), whose source address is the client's (client-mode tokens are keyed by it);
     * a connection without one is refused. Only behind a load balancer that always sends it.
     */
    proxyProtocol: z.boolean().default(false),
    /**
     * Router processes on this host sharing the Thrift port (node:cluster, src/cluster/): 1 is one
     * process as before; N > 1 or auto (os.availableParallelism()) forks that many workers, and
     * the primary process serves the admin port for all of them.
     */
    workers: z.union([z.number().int(WORKERS_MESSAGE).min(1, WORKERS_MESSAGE), z.literal('auto')], { error: WORKERS_MESSAGE }).default(1),
  }).prefault({}),
  admin: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9090),
    /** Bearer token for mutating endpoints; never logged or shown. */
    token: z.string().min(8).optional(),
  }).prefault({}),
  /** Router-wide consistency settings (each metastore's own are under metastores.<name>.consistency). */
  consistency: z.strictObject({
    /**
     * Where client-mode tokens live. local: in each router process (one router, or client affinity
     * at the load balancer). redis: a Redis or Valkey server shared by every router and worker, so a
     * client reads its writes whichever router its connections reach.
     */
    tokenStore: z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('local') }),
      z.strictObject({
        type: z.literal('redis'),
        /** redis://[user:password@]host:port[/db]; the password is never logged or shown. */
        url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'expected redis://host:port (or rediss:// for TLS)'),
        /** Prefixes every key, so several router fleets can share one server. */
        keyPrefix: z.string().default('hms-router:'),
        /** An operation not answered within this failed: reads then take a fresh primary GTID (as strict). */
        timeoutMs: z.number().int().min(1).default(50),
        /** How long a write's reply waits for the store to record it (retried meanwhile). */
        writeTimeoutMs: z.number().int().min(1).default(1000),
        /** How long start-up waits for the store; past it the router starts anyway and reads take the safe path until it answers. */
        connectWaitMs: z.number().int().min(0).default(2000),
      }),
    ], { error: 'expected tokenStore type local or redis' }).default({ type: 'local' }),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  }).prefault({}),
  /**
   * The router's own Kerberos identity, used toward metastores with authentication kerberos.
   * Credentials come from the keytab and are renewed from it before they expire (MIT's client
   * keytab); nothing of the keytab is ever logged or shown.
   */
  kerberos: z.strictObject({
    principal: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected a full principal name (e.g. hms-router/host.example.com@EXAMPLE.COM)'),
    keytab: z.string().min(1),
    /** krb5.conf of the realm (KRB5_CONFIG); the system's /etc/krb5.conf when absent. */
    krb5Conf: z.string().min(1).optional(),
  }).optional(),
  metastores: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'metastore names are letters, digits, _ and -'), metastoreSchema)
    .refine((m) => Object.keys(m).length > 0, 'at least one metastore is required'),
  /** The metastore that serves calls naming no database, and unknown methods. */
  defaultMetastore: z.string(),
  /**
   * Federation: routes (database names, globs, regexes, optional catalog) to metastores, blocked
   * databases, per-metastore write access. Validated by src/routing/routing-map.ts.
   */
  routing: z.unknown().optional(),
}).superRefine((cfg, ctx) => {
  for (const [name, m] of Object.entries(cfg.metastores)) {
    if (m.replicas.length > 0 && m.consistency.mode !== 'off' && m.primary.mysql === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['metastores', name, 'primary', 'mysql'],
        message: 'replicas need the primary\'s MySQL (host, port, user) to read its GTID; add it or set consistency.mode: off',
      });
    }
    if (m.cache.enabled && m.cache.feed === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['metastores', name, 'cache', 'feed'],
        message: 'a cache needs the change feed that tells it of every change: add feed: { database: <the metastore\'s schema on its primary MySQL> }, or set enabled: false',
      });
    }
    if (m.cache.feed !== undefined && m.cache.feed.mysql === undefined && m.primary.mysql === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['metastores', name, 'cache', 'feed', 'mysql'],
        message: 'the change feed reads the metastore\'s primary MySQL: add cache.feed.mysql (or primary.mysql) with host, port and user',
      });
    }
    const seen = new Set<string>();
    m.replicas.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['metastores', name, 'replicas', i, 'name'], message: `duplicate replica name '${r.name}'` });
      seen.add(r.name);
    });
  }
  if (cfg.server.authentication === 'kerberos' && cfg.kerberos === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'authentication'],
      message: 'authentication kerberos needs the router\'s own principal and keytab (its service principal, e.g. hms-router/host@REALM): add a top-level kerberos: { principal, keytab }',
    });
  }
  for (const [name, m] of Object.entries(cfg.metastores)) {
    if (m.authentication.type === 'kerberos' && cfg.kerberos === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['metastores', name, 'authentication'],
        message: 'authentication kerberos needs the router\'s own principal and keytab: add a top-level kerberos: { principal, keytab }',
      });
    }
  }
  // Workers share the port round robin: a client's connections reach different processes.
  const clientMode = Object.entries(cfg.metastores).filter(([, m]) => m.consistency.mode === 'client' && m.replicas.length > 0).map(([name]) => name);
  if (cfg.server.workers !== 1 && clientMode.length > 0 && cfg.consistency.tokenStore.type === 'local') {
    ctx.addIssue({
      code: 'custom',
      path: ['consistency', 'tokenStore'],
      message: `server.workers ${cfg.server.workers} spreads a client's connections over several processes, so client-mode tokens (metastores ${clientMode.join(', ')}) kept per process would let a read miss the client's write: set consistency.tokenStore to { type: redis, url: redis://host:port }, or use server.workers: 1`,
    });
  }
  if (!(cfg.defaultMetastore in cfg.metastores)) {
    ctx.addIssue({
      code: 'custom',
      path: ['defaultMetastore'],
      message: `'${cfg.defaultMetastore}' is not one of the metastores (${Object.keys(cfg.metastores).join(', ')})`,
    });
  }
});

export type RouterConfig = z.infer<typeof configSchema>;
export type MetastoreConfig = RouterConfig['metastores'][string];
export type MysqlConfig = z.infer<typeof mysqlSchema>;
export type ReplicaConfig = z.infer<typeof replicaSchema>;
export type CacheConfig = z.infer<typeof cacheSchema>;
export type ConsistencyConfig = z.infer<typeof consistencySchema>;
export type TokenStoreConfig = RouterConfig['consistency']['tokenStore'];
export type MetastoreAuthConfig = z.infer<typeof metastoreAuthSchema>;
export type RouterKerberosConfig = NonNullable<RouterConfig['kerberos']>;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** host:port, as shown in logs, metrics and errors. */
  readonly address: string;
}

export function parseEndpoint(value: string): Endpoint {
  const bare = value.replace(/^thrift:\/\//, '');
  const i = bare.lastIndexOf(':');
  const host = bare.slice(0, i);
  const port = Number(bare.slice(i + 1));
  return { host, port, address: `${host}:${port}` };
}
