/**
 * The admin HTTP server: /metrics, /healthz, /readyz, the routing map (GET /routing, POST
 * /routing/reload with the admin token), the backends (GET /backends), call counters (GET /stats)
 * and the status page (GET /status, which reads the three). Separate port and bind address from
 * the Thrift port.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RouterMetrics } from './metrics';
import type { BackendsView } from './backends-view';
import { callStats, CallStats } from './call-stats';

/**
 * The status page: one static HTML file with its script and styles inline. It sits beside this
 * module (src/admin/ under tsx, dist/src/admin/ after `npm run build`, which copies it there).
 */
export const STATUS_PAGE_PATH = join(__dirname, 'status.html');

const STATUS_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
  'x-content-type-options': 'nosniff',
};

type Awaitable<T> = T | Promise<T>;

/** POST /routing/reload's answer (with several workers, `workers` holds each one's). */
export type ReloadOutcome = { ok: true; version: string; changed: boolean; workers?: unknown } | { ok: false; problems: string[]; workers?: unknown };

/**
 * What the admin endpoints read. A single router answers from its own objects; the cluster
 * primary (src/cluster/primary.ts) answers by asking its workers, hence the promises.
 */
export interface AdminState {
  /** True while the Thrift port accepts connections (false while draining). */
  accepting(): boolean;
  /** Why the router is not ready, or null when it is. */
  notReadyReason(): Awaitable<string | null>;
  /** The active routing map and batching settings for GET /routing. */
  routing(): Awaitable<{ version: string; loadedAt: string; map: unknown; batching: unknown }>;
  /** GET /backends: every metastore's endpoints, replicas, health, lag and pool usage. */
  backends(): Awaitable<BackendsView>;
  /** POST /routing/reload: re-read the config file's routing map. */
  reloadRouting(): Awaitable<ReloadOutcome>;
  /** The bearer token mutating endpoints need; undefined disables them. Never logged or shown. */
  readonly adminToken: string | undefined;
}

/** Where /metrics and /stats come from: one process's registry, or the cluster's aggregate. */
export interface AdminMetrics {
  /** The /metrics body, Prometheus text format. */
  scrape(): Promise<string>;
  readonly contentType: string;
  /** GET /stats. */
  stats(): Promise<CallStats>;
}

/** One process's metrics, as the admin server reads them. */
export function adminMetricsOf(metrics: RouterMetrics): AdminMetrics {
  return {
    scrape: () => metrics.registry.metrics(),
    contentType: metrics.registry.contentType,
    stats: () => callStats(metrics),
  };
}

export function startAdminServer(host: string, port: number, metrics: AdminMetrics, state: AdminState, log: Logger): Promise<Server> {
  let statusPage: string;
  try {
    statusPage = readFileSync(STATUS_PAGE_PATH, 'utf8');
  } catch (err) {
    return Promise.reject(new Error(`cannot read the status page ${STATUS_PAGE_PATH} (npm run build copies it there): ${(err as Error).message}`));
  }
  const server = createServer((req, res) => {
    handle(req, res, metrics, state, statusPage).catch((err: Error) => {
      log.error({ err: err.message, path: req.url }, 'admin request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${err.message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on admin ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, metrics: AdminMetrics, state: AdminState, statusPage: string): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/routing/reload') {
    if (state.adminToken === undefined) {
      return json(res, 403, { error: 'mutating admin endpoints are disabled: set admin.token in the config' });
    }
    if (!tokenMatches(req.headers.authorization, state.adminToken)) {
      return json(res, 401, { error: 'missing or wrong bearer token (Authorization: Bearer <admin.token>)' });
    }
    const result = await state.reloadRouting();
    return json(res, result.ok ? 200 : 400, result);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' });
    res.end('method not allowed\n');
    return;
  }
  switch (path) {
    case '/metrics': {
      const body = await metrics.scrape();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(body);
      return;
    }
    case '/routing':
      return json(res, 200, await state.routing());
    case '/backends':
      return json(res, 200, await state.backends());
    case '/stats':
      return json(res, 200, await metrics.stats());
    case '/':
      res.writeHead(302, { location: '/status', 'content-type': 'text/plain' });
      res.end('see /status\n');
      return;
    case '/status':
      res.writeHead(200, STATUS_PAGE_HEADERS);
      res.end(statusPage);
      return;
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    case '/readyz': {
      const reason = state.accepting() ? await state.notReadyReason() : 'draining: not accepting new connections';
      res.writeHead(reason === null ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(reason === null ? 'ready\n' : `not ready: ${reason}\n`);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found; try /status, /metrics, /healthz, /readyz, /routing, /backends, /stats (GET), /routing/reload (POST)\n');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** Constant-time comparison of the presented bearer token. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
