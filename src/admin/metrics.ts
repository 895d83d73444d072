/**
 * The router's Prometheus metrics, one registry. Label values come from the method catalog and the
 * config, never from unbounded client input (unknown method names are capped).
 * With several workers (server.workers) the cluster primary aggregates the workers' registries
 * (src/cluster/cluster-metrics.ts): a metric is summed unless it declares another `aggregator`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HistogramSeries, InPlaceHistogram } from './in-place-histogram';

const MAX_UNKNOWN_METHOD_LABELS = 100;

interface CallSeries {
  readonly labels: { method: string; kind: string; metastore: string; role: string; outcome: string };
  /** Calls counted since the counter was last read. */
  pending: number;
  readonly duration: HistogramSeries;
}

function getOrMake<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

export class RouterMetrics {
  readonly registry = new Registry();

  readonly calls = new Counter({
    name: 'hms_router_calls_total',
    help: 'Calls answered, by method, method kind, metastore, backend role and outcome (ok, error, router_error, throttled).',
    labelNames: ['method', 'kind', 'metastore', 'role', 'outcome'] as const,
    registers: [this.registry],
    // recordCall counts in place; the counter gets the calls since its last read.
    collect: () => this.flushCallCounts(),
  });

  readonly callDuration = new InPlaceHistogram({
    name: 'hms_router_call_duration_seconds',
    help: 'Time from a complete request to the reply handed to the client socket, by method kind, metastore and role.',
    labelNames: ['kind', 'metastore', 'role'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly unknownMethods = new Counter({
    name: 'hms_router_unknown_method_calls_total',
    help: 'Calls of methods the catalog does not know, passed through to the default primary.',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });

  readonly clientConnections = new Gauge({
    name: 'hms_router_client_connections',
    help: 'Open client connections.',
    registers: [this.registry],
  });

  readonly clientConnectionsTotal = new Counter({
    name: 'hms_router_client_connections_total',
    help: 'Client connections accepted, by transport detected.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly protocolErrors = new Counter({
    name: 'hms_router_protocol_errors_total',
    help: 'Client connections closed for a malformed or oversized message, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly backendErrors = new Counter({
    name: 'hms_router_backend_errors_total',
    help: 'Failed backend calls, by metastore, endpoint and error code.',
    labelNames: ['metastore', 'endpoint', 'code'] as const,
    registers: [this.registry],
  });

  readonly backendRetries = new Counter({
    name: 'hms_router_backend_retries_total',
    help: 'Reads retried on a fresh connection after a pooled connection turned out to be closed.',
    labelNames: ['metastore', 'endpoint'] as const,
    registers: [this.registry],
  });

  /** Set by the server: where pool sizes are read when metrics are collected. */
  poolSnapshot: () => Array<{ metastore: string; endpoint: string; borrowed: number; available: number; pending: number }> = () => [];

  readonly poolConnections = new Gauge({
    name: 'hms_router_backend_pool_connections',
    help: 'Backend pool connections by metastore, endpoint and state (borrowed, available, pending acquires).',
    labelNames: ['metastore', 'endpoint', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      this.poolConnections.reset();
      for (const p of this.poolSnapshot()) {
        const labels = { metastore: p.metastore, endpoint: p.endpoint };
        this.poolConnections.set({ ...labels, state: 'borrowed' }, p.borrowed);
        this.poolConnections.set({ ...labels, state: 'available' }, p.available);
        this.poolConnections.set({ ...labels, state: 'pending' }, p.pending);
      }
    },
  });

  readonly backendConnectionsOpened = new Counter({
    name: 'hms_router_backend_connections_opened_total',
    help: 'Connections the router opened to metastores, by metastore and endpoint.',
    labelNames: ['metastore', 'endpoint'] as const,
    registers: [this.registry],
  });

  readonly authTotal = new Counter({
    name: 'hms_router_auth_total',
    help: 'SASL sign-ins: side client (callers signing in to the router) or metastore (the router signing in), mechanism, outcome.',
    labelNames: ['side', 'mechanism', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly readFallbacks = new Counter({
    name: 'hms_router_read_fallbacks_total',
    help: 'Reads sent to the primary although replicas exist, by metastore and reason.',
    labelNames: ['metastore', 'reason'] as const,
    registers: [this.registry],
  });

  readonly replicaWait = new Histogram({
    name: 'hms_router_replica_wait_seconds',
    help: 'Time reads waited for a replica to reach the session GTID, by metastore and outcome (covered, timeout, unhealthy).',
    labelNames: ['metastore', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly primaryGtidQueries = new Counter({
    name: 'hms_router_primary_gtid_queries_total',
    help: 'GTID reads sent to a primary MySQL (rate = queries per second), by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly tokenStoreSafeReads = new Counter({
    name: 'hms_router_token_store_safe_reads_total',
    help: 'client-mode reads that took a fresh primary GTID (as strict) because the token store could not answer, by metastore and reason (unavailable, timeout, error, pending: a write of the client not yet recorded there).',
    labelNames: ['metastore', 'reason'] as const,
    registers: [this.registry],
  });

  readonly earlyReplicaReads = new Counter({
    name: 'hms_router_early_replica_reads_total',
    help: 'client-mode reads sent to a replica while the shared token store was asked (a token seen here before was covered), by metastore and outcome: kept (the store\'s token was covered) or decided_again (a write through another router: decided with the store\'s token and read again).',
    labelNames: ['metastore', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tokenStoreOperations = new Histogram({
    name: 'hms_router_token_store_operation_seconds',
    help: 'Token store operations (get, offer, invalidate) by outcome (ok, unavailable, timeout, error, pending).',
    labelNames: ['operation', 'outcome'] as const,
    // Fine below 1 ms: a get is on every client-mode read's path, and its cost is the question.
    buckets: [0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  readonly cacheHits = new Counter({
    name: 'hms_router_cache_hits_total',
    help: 'Reads answered from the metadata cache, by metastore and method (get_partitions_by_names: calls, not partitions).',
    labelNames: ['metastore', 'method'] as const,
    registers: [this.registry],
  });

  readonly cacheMisses = new Counter({
    name: 'hms_router_cache_misses_total',
    help: 'Cacheable reads the cache could have answered but held no entry for (they went to a metastore and may fill it), by metastore and method.',
    labelNames: ['metastore', 'method'] as const,
    registers: [this.registry],
  });

  readonly cacheBypasses = new Counter({
    name: 'hms_router_cache_bypasses_total',
    help: 'Cacheable reads not answered from the cache for a reason (feed_starting, feed_failing, feed_behind, feed_lagging, token_ahead_of_feed, own_write_not_in_feed, token_unavailable, pinned_connection, not_cacheable_request), by metastore and reason.',
    labelNames: ['metastore', 'reason'] as const,
    registers: [this.registry],
  });

  readonly cacheFills = new Counter({
    name: 'hms_router_cache_fills_total',
    help: 'Answers offered to the cache after a miss, by metastore and outcome: stored, changed_during_call, older_than_change (a change the answer may not reflect), reset, too_large, not_stored (an exception or a reply that cannot be cut per partition).',
    labelNames: ['metastore', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly cacheInvalidations = new Counter({
    name: 'hms_router_cache_invalidated_entries_total',
    help: 'Cache entries removed because the change feed read a change to an object they depend on.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly cacheFeedEvents = new Counter({
    name: 'hms_router_cache_feed_events_total',
    help: 'Notification log events the change feed read, by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly cacheFeedResets = new Counter({
    name: 'hms_router_cache_feed_resets_total',
    help: 'Times the cache forgot everything because the feed could not vouch for what it read before, by metastore and reason (started, gap, rewound, server_changed).',
    labelNames: ['metastore', 'reason'] as const,
    registers: [this.registry],
  });

  readonly cacheFeedErrors = new Counter({
    name: 'hms_router_cache_feed_errors_total',
    help: 'Failed reads of the notification log (the cache stops answering until a read succeeds), by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  /** Set by the server when a metastore has a cache: refreshes the cache gauges when metrics are collected. */
  collectCacheState: () => void = () => {};

  readonly cacheEntries = new Gauge({
    name: 'hms_router_cache_entries',
    help: 'Entries in the metadata cache (get_partitions_by_names: one per partition), by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
    collect: () => this.collectCacheState(),
  });

  readonly cacheBytes = new Gauge({
    name: 'hms_router_cache_bytes',
    help: 'Memory the metadata cache accounts for its entries, by metastore (bounded by cache.maxBytes per process).',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly cacheFeedLag = new Gauge({
    name: 'hms_router_cache_feed_lag_seconds',
    help: 'Seconds since the change feed\'s last complete read of the notification log began (answers are at most this old; none past cache.maxLagMs). With workers: the most any worker sees.',
    labelNames: ['metastore'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly cacheFeedEventId = new Gauge({
    name: 'hms_router_cache_feed_event_id',
    help: 'The last notification log EVENT_ID the change feed read, by metastore. With workers: the least any worker has read.',
    labelNames: ['metastore'] as const,
    aggregator: 'min',
    registers: [this.registry],
  });

  /** Set by the server when a shared token store is configured: 1 connected, 0 not. */
  tokenStoreUp: () => number | null = () => null;

  readonly tokenStoreUpGauge = new Gauge({
    name: 'hms_router_token_store_up',
    help: '1 while the shared token store (consistency.tokenStore type redis) is connected, 0 while not; absent with the local store. With workers: 1 only when every worker is connected.',
    registers: [this.registry],
    aggregator: 'min',
    collect: () => { const up = this.tokenStoreUp(); if (up !== null) this.tokenStoreUpGauge.set(up); },
  });

  /** Set by the server: refreshes the replica gauges when metrics are collected. */
  collectReplicaState: () => void = () => {};

  readonly replicaLagTransactions = new Gauge({
    name: 'hms_router_replica_lag_transactions',
    help: 'Transactions the primary has executed that the replica has not (last known positions).',
    labelNames: ['metastore', 'replica'] as const,
    // With several workers (server.workers), /metrics shows the most any worker sees.
    aggregator: 'max',
    registers: [this.registry],
    collect: () => this.collectReplicaState(),
  });

  readonly replicaLagSeconds = new Gauge({
    name: 'hms_router_replica_lag_seconds',
    help: 'Seconds behind the primary as the replica reports it.',
    labelNames: ['metastore', 'replica'] as const,
    // Workers: the most any worker sees.
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly replicaHealthy = new Gauge({
    name: 'hms_router_replica_healthy',
    help: '1 when the replica (its HMS and MySQL) may serve reads, else 0.',
    labelNames: ['metastore', 'replica'] as const,
    // Workers: 0 when any worker has the replica out of reads.
    aggregator: 'min',
    registers: [this.registry],
  });

  readonly replicaStalled = new Gauge({
    name: 'hms_router_replica_stalled',
    help: '1 while the replica is stalled (not applying for 2 s: SQL thread stopped, or behind the primary without progress); reads it does not cover go to the primary without waiting (reason replica_stalled).',
    labelNames: ['metastore', 'replica'] as const,
    // Workers: 1 when any worker sees it stalled.
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly primaryMysqlUp = new Gauge({
    name: 'hms_router_primary_mysql_up',
    help: "1 when the last read of the primary's MySQL GTID (probed every consistency.pollIntervalMs) succeeded, else 0 (reads go to the primary).",
    labelNames: ['metastore'] as const,
    // Workers: 0 when any worker failed to read it.
    aggregator: 'min',
    registers: [this.registry],
  });

  readonly routingReloads = new Counter({
    name: 'hms_router_routing_reloads_total',
    help: 'Routing map reloads by source (sighup, file, admin) and outcome (ok, unchanged, refused).',
    labelNames: ['source', 'outcome'] as const,
    // Workers: every worker applies every reload, so the most of any worker counts each reload once.
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly partialFanOuts = new Counter({
    name: 'hms_router_fanout_partial_total',
    help: "Fan-out listings answered without a metastore that failed (routing.fanOut: partial), by method and metastore.",
    labelNames: ['method', 'metastore'] as const,
    registers: [this.registry],
  });

  readonly listings = new Counter({
    name: 'hms_router_listings_total',
    help: 'Partition listings the batcher looked at, by metastore, method and plan (batched, or passed through with the reason).',
    labelNames: ['metastore', 'method', 'plan'] as const,
    registers: [this.registry],
  });

  readonly listingBatches = new Counter({
    name: 'hms_router_listing_batches_total',
    help: 'get_partitions_by_names calls made for batched listings, by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly listingPartitions = new Counter({
    name: 'hms_router_listing_partitions_total',
    help: 'Partitions returned by batched listings, by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly listingDuration = new Histogram({
    name: 'hms_router_listing_duration_seconds',
    help: 'Time of batched listings from the first planning call to the assembled reply, by metastore.',
    labelNames: ['metastore'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly flowAdmissions = new Counter({
    name: 'hms_router_flow_admissions_total',
    help: 'Flow control decisions by metastore, class, priority and outcome (admitted at once, waited then admitted, throttled).',
    labelNames: ['metastore', 'class', 'priority', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly flowThrottled = new Counter({
    name: 'hms_router_flow_throttled_total',
    help: 'Calls refused by flow control after waiting their class\'s maxWaitMs, by metastore, class and reason (pressure, class_concurrency, class_rate).',
    labelNames: ['metastore', 'class', 'reason'] as const,
    registers: [this.registry],
  });

  readonly flowWait = new Histogram({
    name: 'hms_router_flow_wait_seconds',
    help: 'Time calls waited for admission, by class and outcome (waited, throttled).',
    labelNames: ['class', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly flowInFlight = new Gauge({
    name: 'hms_router_flow_in_flight',
    help: 'Calls admitted by flow control and not yet answered, by metastore.',
    labelNames: ['metastore'] as const,
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'hms_router_endpoint_breaker_state',
    help: 'Circuit breaker of each HMS endpoint: 0 closed (in use), 1 half-open (on trial), 2 open (taken out).',
    labelNames: ['metastore', 'endpoint'] as const,
    // Workers: the most open breaker of any worker.
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly healthProbes = new Counter({
    name: 'hms_router_health_probes_total',
    help: 'Health probes of HMS endpoints (a fresh connection and fb303 getStatus), by metastore, endpoint and outcome.',
    labelNames: ['metastore', 'endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly unknownSeen = new Set<string>();
  /**
   * The per-call series by method, kind, metastore, role and outcome (nested maps: no key string
   * built per call, no label object hashed): a count not yet added to `calls`, and the duration
   * series. prom-client hashes and validates the labels on every inc, even through labels().
   */
  private readonly callSeries = new Map<string, Map<string, Map<string, Map<string, Map<string, CallSeries>>>>>();
  private readonly dirtyCallSeries: CallSeries[] = [];

  /** Counts one answered call and its duration. */
  recordCall(method: string, kind: string, metastore: string, role: string, outcome: string, seconds: number): void {
    const series = this.callSeriesOf(method, kind, metastore, role, outcome);
    if (series.pending === 0) this.dirtyCallSeries.push(series);
    series.pending += 1;
    series.duration.observe(seconds);
  }

  private callSeriesOf(method: string, kind: string, metastore: string, role: string, outcome: string): CallSeries {
    const byKind = getOrMake(this.callSeries, method);
    const byMetastore = getOrMake(byKind, kind);
    const byRole = getOrMake(byMetastore, metastore);
    const byOutcome = getOrMake(byRole, role);
    let series = byOutcome.get(outcome);
    if (series === undefined) {
      series = { labels: { method, kind, metastore, role, outcome }, pending: 0, duration: this.callDuration.child({ kind, metastore, role }) };
      byOutcome.set(outcome, series);
    }
    return series;
  }

  private flushCallCounts(): void {
    for (const series of this.dirtyCallSeries) {
      this.calls.inc(series.labels, series.pending);
      series.pending = 0;
    }
    this.dirtyCallSeries.length = 0;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hms_router_process_' });
  }

  countUnknownMethod(name: string): void {
    let label = name;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) label = '(invalid)';
    else if (!this.unknownSeen.has(name)) {
      if (this.unknownSeen.size >= MAX_UNKNOWN_METHOD_LABELS) label = '(other)';
      else this.unknownSeen.add(name);
    }
    this.unknownMethods.inc({ method: label });
  }
}
