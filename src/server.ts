/**
 * Wires the rooms together: Thrift listener -> client connections -> call handler -> backend pools;
 * admin HTTP beside it. Returns a handle that shuts the router down gracefully.
 */
import { createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import type { RouterConfig } from './config/schema';
import { RouterMetrics } from './admin/metrics';
import { adminMetricsOf, AdminState, startAdminServer } from './admin/http';
import { BackendsViewBuilder, SAMPLE_INTERVAL_MS } from './admin/backends-view';
import { MetastoreBackends } from './backends/metastore-backends';
import { CallHandler } from './proxy/call-handler';
import { ClientConnection } from './proxy/client-connection';
import { ConsistencyRouter } from './consistency/consistency-router';
import { openTokenStore } from './consistency/open-token-store';
import { routingMapOf } from './config/load';
import { HealthProber } from './backends/health-prober';
import { FlowControl } from './flow/flow-control';
import { ReloadSource, RoutingMapReloader } from './routing/map-reloader';
import { RouterCredentials } from './auth/router-credentials';
import { negotiateSaslServer } from './auth/sasl-server';
import { readProxyHeader } from './proxy/proxy-header-reader';
import { CacheStage } from './cache/cache-stage';
import { ChangeFeed } from './cache/change-feed';

export interface RunningRouter {
  readonly port: number;
  /** null when started with adminServer: false (a cluster worker: the primary serves the admin port). */
  readonly adminPort: number | null;
  readonly metrics: RouterMetrics;
  /** What the admin endpoints read (a cluster worker answers the primary's questions from it). */
  readonly adminState: AdminState;
  /**
   * Re-reads the config file's routing map (what SIGHUP and POST /routing/reload do); `text`: the
   * file's content, already read.
   */
  reloadRouting(source?: ReloadSource, text?: string): ReturnType<RoutingMapReloader['reload']>;
  /** Stops accepting, lets calls in flight finish (up to drainTimeoutMs), closes everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** The config file, re-read for routing map reloads (and watched unless watchConfig is false). */
  readonly configPath?: string;
  readonly watchConfig?: boolean;
  /** false: no admin HTTP server (cluster workers; the primary serves it). Default true. */
  readonly adminServer?: boolean;
}

export async function startRouter(config: RouterConfig, log: Logger, options: StartOptions = {}): Promise<RunningRouter> {
  const metrics = new RouterMetrics();
  // The router's Kerberos identity, checked against the KDC before anything listens.
  const credentials = config.kerberos === undefined ? null : new RouterCredentials(config.kerberos);
  if (credentials !== null) {
    await credentials.check();
    log.info({ principal: credentials.principal }, 'kerberos credentials obtained from the keytab');
  }
  const backends = new MetastoreBackends(config, metrics, log, credentials);
  // client-mode tokens: shared by every router when consistency.tokenStore is redis.
  const tokenStore = await openTokenStore(config, metrics, log);
  const consistency = new Map(Object.entries(config.metastores).map(([name, m]) =>
    [name, new ConsistencyRouter(name, m, backends.replicaPools(name), metrics, log, tokenStore ?? undefined)] as const));
  metrics.collectReplicaState = () => { for (const c of consistency.values()) c.collectLag(); };
  const flowControl = new FlowControl(metrics);
  const prober = new HealthProber(backends.allPools());
  prober.start();
  // The metadata cache of each metastore with a change feed (src/cache/); its first read is awaited below.
  const cache = Object.values(config.metastores).some((m) => m.cache.feed !== undefined)
    ? new CacheStage(config.metastores, metrics, (metastore, feed, mysql, listener) =>
      new ChangeFeed({ metastore, mysql, database: feed.database, pollIntervalMs: feed.pollIntervalMs, batchSize: feed.batchSize, queryTimeoutMs: feed.queryTimeoutMs, log }, listener))
    : null;
  const handler = new CallHandler(config, backends, consistency, metrics, log, flowControl, routingMapOf(config), undefined, cache);
  const reloader = new RoutingMapReloader(options.configPath ?? null, config,
    () => ({ map: handler.routingMap, batching: handler.batchingPolicies, cache: handler.cachePolicies }),
    ({ map, batching, cache: policies }) => { handler.setRoutingMap(map); handler.setBatching(batching); handler.setCachePolicies(policies); }, metrics, log);
  if (options.watchConfig !== false) reloader.watchFile();
  // Replicas start as unchecked (their reads would go to the primary): check each once first.
  await Promise.all([...consistency.values()].map((c) => c.ready()));
  await cache?.start();
  const authenticate = config.server.authentication === 'kerberos'
    ? (socket: Socket) => negotiateSaslServer(socket, config.server.authTimeoutMs) : null;
  const connections = new Set<ClientConnection>();
  let nextSessionId = 1;
  let accepting = true;

  const serve = (socket: Socket, remoteAddress: string) => {
    const session = { id: nextSessionId++, remoteAddress, identity: null, principal: null, dedicated: new Map(), holders: new Map() };
    const connection = new ClientConnection(socket, session, handler, metrics, log, config.server, authenticate, config.server.authTimeoutMs);
    connections.add(connection);
    void connection.done.then(() => connections.delete(connection));
  };
  const server: Server = createServer((socket: Socket) => {
    if (!config.server.proxyProtocol) return serve(socket, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    // Behind a load balancer that sends the PROXY protocol: the client's own address keys its tokens.
    socket.on('error', () => { /* 'close' follows */ });
    readProxyHeader(socket, config.server.authTimeoutMs).then((source) => {
      serve(socket, source);
      // The reader paused the socket to hand over the bytes after the header: flow again.
      socket.resume();
    }, (err: Error) => {
      metrics.protocolErrors.inc({ reason: 'proxy_header' });
      log.warn({ client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, err: err.message }, 'connection refused: bad PROXY protocol header');
      socket.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${config.server.host}:${config.server.port}: ${err.message}`)));
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  metrics.poolSnapshot = () => backends.allPools().map((pool) => {
    let borrowed = 0; let available = 0; let pending = 0;
    for (const s of pool.stats()) { borrowed += s.borrowed; available += s.available; pending += s.pending; }
    return { metastore: pool.metastore, endpoint: pool.endpoint.address, borrowed, available, pending };
  });
  const backendsView = new BackendsViewBuilder({
    config,
    routingMap: () => handler.routingMap,
    primaryPools: (name) => backends.primaryCandidates(name),
    consistency: (name) => consistency.get(name),
    cache: (name) => cache?.state().find((c) => c.metastore === name),
  });
  const backendsSampler = setInterval(() => backendsView.observe(), SAMPLE_INTERVAL_MS).unref();
  const adminState: AdminState = {
    accepting: () => accepting,
    routing: () => ({ version: handler.routingMap.version, loadedAt: handler.routingMap.loadedAt, map: handler.routingMap.source,
      batching: Object.fromEntries(handler.batchingPolicies), cache: Object.fromEntries(handler.cachePolicies) }),
    backends: () => backendsView.build(),
    reloadRouting: () => reloader.reload('admin'),
    adminToken: config.admin.token,
    notReadyReason: () => {
      const pools = backends.primaryCandidates(config.defaultMetastore);
      if (pools.every((p) => p.recentFailure() !== null)) {
        return `default metastore '${config.defaultMetastore}' unreachable: ${pools[0]!.recentFailure()!.message}`;
      }
      return null;
    },
  };
  const admin: HttpServer | null = options.adminServer === false ? null : await startAdminServer(config.admin.host, config.admin.port, adminMetricsOf(metrics), adminState, log).catch(async (err) => {
    clearInterval(backendsSampler);
    reloader.close();
    flowControl.close();
    prober.stop();
    server.close();
    await backends.close();
    await Promise.all([...consistency.values()].map((c) => c.close()));
    await cache?.stop();
    throw err;
  });
  const adminPort = admin === null ? null : (admin.address() as AddressInfo).port;
  log.info({ port, adminPort, metastores: Object.keys(config.metastores), defaultMetastore: config.defaultMetastore }, 'hms-router listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      clearInterval(backendsSampler);
      reloader.close();
      prober.stop();
      flowControl.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.drain();
      const drained = Promise.all([...connections].map((c) => c.done));
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, config.server.drainTimeoutMs).unref());
      await Promise.race([drained, timeout]);
      for (const c of connections) c.destroy();
      await stopped;
      await backends.close();
      await Promise.all([...consistency.values()].map((c) => c.close()));
      await cache?.stop();
      await tokenStore?.close();
      if (admin !== null) {
        await new Promise<void>((resolve) => admin.close(() => resolve()));
        admin.closeAllConnections();
      }
      log.info('hms-router stopped');
    })();
    return closing;
  };
  return { port, adminPort, metrics, adminState, close, reloadRouting: (source = 'sighup', text) => reloader.reload(source, text) };
}
