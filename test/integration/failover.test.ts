/**
 * HA primary endpoints, health probes and circuit breakers on the real rw metastore. The metastore
 * is listed twice: behind a port where nothing listens (later a relay that can cut replies), and
 * directly. Calls keep working while one endpoint is dead, the dead one is taken out and brought back
 * by the probes, a read cut off mid-call fails over, and a write cut off mid-call is not resent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { MessageType } from '../../src/thrift/protocol';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import { closedPort, CuttingRelay } from '../support/cutting-relay';

const stack = status();
const db = `failover_${Date.now()}`;
const written: string[] = [db];
let deadPort: number;
let router: TestRouter;
let relay: CuttingRelay | null = null;
let direct: HmsTestClient;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const breaker = (port: number) => router.metric('hms_router_endpoint_breaker_state', { endpoint: `127.0.0.1:${port}` });

beforeAll(async () => {
  direct = await HmsTestClient.connect(stack.metastores.rw.port);
  await direct.success('create_database', args.createDatabase(db, `${stack.warehouse}/${db}.db`));
  deadPort = await closedPort();
  router = await startTestRouter({
    metastores: {
      rw: {
        primary: { endpoints: [`127.0.0.1:${deadPort}`, `127.0.0.1:${stack.metastores.rw.port}`] },
        health: { intervalMs: 200, timeoutMs: 1000, failureThreshold: 2, openMs: 1500 },
        timeouts: { connectMs: 1000, retryBackoffMs: 200, callMs: 20_000 },
      },
    },
  });
});

afterAll(async () => {
  await router?.close();
  await relay?.close();
  for (const name of written) await direct.call('drop_database', args.dropDatabase(name));
  direct.close();
});

describe('HA primary endpoints', () => {
  it('serve reads and writes while the first endpoint is dead, and the dead one is taken out', async () => {
    const client = await HmsTestClient.connect(router.port);
    for (let i = 0; i < 20; i++) expect((await client.call('get_database', args.name(db))).result[0]).toBeDefined();
    const created = `${db}_w1`;
    written.push(created);
    await client.success('create_database', args.createDatabase(created, `${stack.warehouse}/${created}.db`));
    await until('the dead endpoint\'s breaker to open', async () => await breaker(deadPort) === 2);
    expect(await breaker(stack.metastores.rw.port)).toBe(0);
    expect(router.logs.some((l) => l.msg === 'metastore endpoint taken out (circuit breaker open)' && l.endpoint === `127.0.0.1:${deadPort}`)).toBe(true);
    client.close();
  });

  it('an endpoint that comes back is brought back by the health probes, without traffic', async () => {
    relay = await CuttingRelay.start(stack.metastores.rw.port, deadPort);
    await until('the returning endpoint\'s breaker to close', async () => await breaker(deadPort) === 0);
    expect(await router.metric('hms_router_health_probes_total', { endpoint: `127.0.0.1:${deadPort}`, outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('a read cut off mid-call fails over to the next endpoint', async () => {
    const client = await HmsTestClient.connect(router.port);
    relay!.mode = 'cut-replies';
    const cutsBefore = relay!.cuts;
    const r = await client.call('get_database', args.name(db));
    expect(r.type).toBe(MessageType.REPLY);
    expect(r.result[0]).toBeDefined();
    expect(relay!.cuts).toBeGreaterThan(cutsBefore); // it did go to the first endpoint, and was cut
    client.close();
  });

  it('a write cut off mid-call is not resent: the client gets an error naming the endpoint, the write ran once', async () => {
    // The read above counted one failure; reset the breaker so the write goes to the relay first.
    relay!.mode = 'pass';
    await until('the relay endpoint back in service', async () => await breaker(deadPort) === 0);
    relay!.mode = 'cut-replies';
    const client = await HmsTestClient.connect(router.port);
    const created = `${db}_w2`;
    written.push(created);
    const r = await client.call('create_database', args.createDatabase(created, `${stack.warehouse}/${created}.db`));
    // Resent to the second endpoint, the write would answer AlreadyExistsException (field 1).
    expect(r.type).toBe(MessageType.EXCEPTION);
    expect(String(r.result[1])).toContain(`127.0.0.1:${deadPort}`);
    expect((await direct.call('get_database', args.name(created))).result[0]).toBeDefined();
    client.close();
  });
});
