/**
 * Secrets never leave the router: a real router (in process, on loopback) whose metastores and
 * MySQL servers are unreachable, so that every error path runs (connect failures, MySQL checks that
 * fail, calls that fail, readiness, refused and accepted reloads, a wrong token). Every admin
 * response (/routing, /backends, /stats, /metrics, /status, /readyz, reload bodies) and every log
 * line at trace level is searched for the configured MySQL passwords and the admin token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { startRouter, RunningRouter } from '../../src/server';
import { HmsTestClient, args } from '../support/hms-test-client';
import type { BackendsView } from '../../src/admin/backends-view';

const PRIMARY_PASSWORD = 'Prim4ry-pw-7c1e93';
const REPLICA_PASSWORD = 'R3plica-pw-52ad0f';
const ADMIN_TOKEN = 'admin-token-e06b4d1a9f';
const SECRETS = [PRIMARY_PASSWORD, REPLICA_PASSWORD, ADMIN_TOKEN];

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function configText(ports: Record<string, number>, routes = '[{ glob: "fed_*", metastore: fed }]'): string {
  return `
server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 1000 }
admin: { host: 127.0.0.1, port: 0, token: ${ADMIN_TOKEN} }
log: { level: trace }
metastores:
  rw:
    primary:
      endpoints: ["127.0.0.1:${ports.hms}"]
      mysql: { host: 127.0.0.1, port: ${ports.primaryDb}, user: router, password: ${PRIMARY_PASSWORD} }
    replicas:
      - name: r1
        endpoints: ["127.0.0.1:${ports.hmsRo}"]
        mysql: { host: 127.0.0.1, port: ${ports.replicaDb}, user: router, password: ${REPLICA_PASSWORD} }
    consistency: { mode: session, pollIntervalMs: 100, queryTimeoutMs: 500 }
    timeouts: { connectMs: 500, retryBackoffMs: 5000 }
    pool: { minIdle: 1 }
  fed:
    primary: { endpoints: ["127.0.0.1:${ports.hmsFed}"] }
defaultMetastore: rw
routing:
  routes: ${routes}
`;
}

describe('admin API and logs never show secrets', () => {
  let router: RunningRouter;
  let configPath: string;
  let ports: Record<string, number>;
  const lines: string[] = [];
  const bodies = new Map<string, string>();

  const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${router.adminPort}${path}`, { redirect: 'manual', ...init });
  async function record(label: string, response: Promise<Response>): Promise<Response> {
    const r = await response;
    bodies.set(label, await r.clone().text());
    return r;
  }

  beforeAll(async () => {
    ports = { hms: await closedPort(), hmsRo: await closedPort(), hmsFed: await closedPort(), primaryDb: await closedPort(), replicaDb: await closedPort() };
    configPath = join(mkdtempSync(join(tmpdir(), 'hms-router-secrets-')), 'router.yaml');
    writeFileSync(configPath, configText(ports));
    const config = parseConfig(configText(ports), configPath);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter((l) => l.trim() !== ''));
        done();
      },
    });
    router = await startRouter(config, createLogger(config.log.level, sink), { configPath, watchConfig: false });
  });

  afterAll(async () => { await router?.close(); });

  it('exercises the error paths, then finds no secret anywhere', async () => {
    // A call that fails (the metastore is unreachable) and a read that needs the primary's GTID.
    const client = await HmsTestClient.connect(router.port);
    const reply = await client.call('get_database', args.name('web'));
    expect(reply.type).toBe(3); // TApplicationException naming the metastore
    client.close();
    await new Promise((r) => setTimeout(r, 300)); // a few replica polls fail meanwhile

    const backends = await record('/backends', admin('/backends'));
    const view = (await backends.json()) as BackendsView;
    const rw = view.metastores.find((m) => m.name === 'rw')!;
    // The error paths really ran: the view reports them (by address only).
    expect(rw.primary.endpoints[0]).toMatchObject({ healthy: false, lastError: { current: true } });
    expect(rw.replicas[0]!.mysql).toMatchObject({ address: `127.0.0.1:${ports.replicaDb}`, healthy: false });
    expect(rw.replicas[0]!.mysql.error).toMatch(/ECONNREFUSED/);

    for (const path of ['/routing', '/stats', '/metrics', '/status', '/readyz', '/healthz', '/', '/nope']) await record(path, admin(path));
    expect((await record('reload, no token', admin('/routing/reload', { method: 'POST' }))).status).toBe(401);
    expect((await record('reload, wrong token', admin('/routing/reload', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } }))).status).toBe(401);
    writeFileSync(configPath, configText(ports, '[{ glob: "fed_*", metastore: nowhere }]'));
    const refused = await record('reload, refused', admin('/routing/reload', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    expect(refused.status).toBe(400);
    writeFileSync(configPath, configText(ports, '[{ glob: "fed_*", metastore: fed }, { database: "x", metastore: fed }]'));
    const accepted = await record('reload, accepted', admin('/routing/reload', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    expect(accepted.status).toBe(200);

    expect(bodies.size).toBe(13);
    for (const [label, body] of bodies) {
      for (const secret of SECRETS) expect(body.includes(secret), `${label} shows a secret`).toBe(false);
    }
    expect(lines.some((l) => /metastore endpoint unreachable/.test(l))).toBe(true);
    expect(lines.some((l) => /replica MySQL unhealthy/.test(l))).toBe(true);
    expect(lines.some((l) => /backend call failed/.test(l))).toBe(true);
    expect(lines.some((l) => /routing map/i.test(l))).toBe(true);
    for (const line of lines) {
      for (const secret of SECRETS) expect(line.includes(secret), `log line shows a secret: ${line}`).toBe(false);
    }
  });
});
