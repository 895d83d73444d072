/**
 * The shared token store against a real Redis server (Debian's redis-server; this file starts its
 * own on a free port, so it can stop, freeze and restart it): two RedisTokenStore instances stand
 * for two routers. What a user relies on: a write recorded through one router is seen by the
 * other; a token read before a write never lands after it; a store that is down or frozen fails
 * fast, so reads take the safe path; a write the store missed is retried and lands once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startRedis } from '../../stack/redis';
import { isAlive, portIsFree, stopProcess } from '../../stack/process';
import { RedisTokenStore, TokenStoreError, type TokenStoreOutcome } from '../../src/consistency/token-store-redis';
import { formatGtid, parseGtid } from '../../src/consistency/gtid';

const silent = pino({ level: 'silent' });
const ma = (t: string) => parseGtid('mariadb', t);
let port = 0;
let dir = '';
let pid = 0;
const stores: RedisTokenStore[] = [];

async function freePort(): Promise<number> {
  for (let p = 16400 + Math.floor(Math.random() * 500); ; p++) if (await portIsFree(p)) return p;
}

function store(overrides: { timeoutMs?: number; writeTimeoutMs?: number } = {}): RedisTokenStore {
  const outcomes: TokenStoreOutcome[] = [];
  const s = new RedisTokenStore({
    url: `redis://127.0.0.1:${port}`, keyPrefix: `test-${process.pid}:`, timeoutMs: overrides.timeoutMs ?? 100,
    writeTimeoutMs: overrides.writeTimeoutMs ?? 300, ttlMs: 60_000, observe: (_op, outcome) => outcomes.push(outcome), log: silent,
  });
  stores.push(s);
  return s;
}

async function failure(p: Promise<unknown>): Promise<TokenStoreError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TokenStoreError);
  return err as TokenStoreError;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'hms-token-store-'));
  pid = await startRedis(port, dir);
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
  await stopProcess(pid, 5000);
  rmSync(dir, { recursive: true, force: true });
});

describe('RedisTokenStore on a real Redis', () => {
  it('two routers share tokens: a token offered by A is read by B; a write through B removes it for A', async () => {
    const a = store(); const b = store();
    await Promise.all([a.waitReady(5000), b.waitReady(5000)]);
    const first = await a.get('rw', '10.0.0.7|alice');
    expect(first.token).toBeNull();
    await a.offer('rw', '10.0.0.7|alice', first.generation, ma('0-1-42'));
    expect(formatGtid((await b.get('rw', '10.0.0.7|alice')).token!)).toBe('0-1-42');
    await b.invalidate('rw', '10.0.0.7|alice');
    expect((await a.get('rw', '10.0.0.7|alice')).token).toBeNull();
    // Other clients and metastores are untouched.
    expect((await a.get('rw', '10.0.0.8|alice')).token).toBeNull();
  });

  it('a token read before a write through another router is not stored after it', async () => {
    const a = store(); const b = store();
    await Promise.all([a.waitReady(5000), b.waitReady(5000)]);
    const before = await a.get('rw', 'race|bob');
    await b.invalidate('rw', 'race|bob');
    await a.offer('rw', 'race|bob', before.generation, ma('0-1-1'));
    expect((await b.get('rw', 'race|bob')).token).toBeNull();
  });

  it('a frozen store (SIGSTOP) times out within timeoutMs; a write it missed is pending, then lands when it wakes', async () => {
    const a = store({ timeoutMs: 100, writeTimeoutMs: 300 }); const b = store({ timeoutMs: 100 });
    await Promise.all([a.waitReady(5000), b.waitReady(5000)]);
    const g = (await a.get('rw', 'frozen|carol')).generation;
    await a.offer('rw', 'frozen|carol', g, ma('0-1-7'));
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      expect((await failure(b.get('rw', 'frozen|carol'))).outcome).toBe('timeout');
      expect(Date.now() - t0).toBeLessThan(1000);
      // The write's invalidation is retried for writeTimeoutMs, then given up for now and remembered.
      const w0 = Date.now();
      await failure(a.invalidate('rw', 'frozen|carol'));
      expect(Date.now() - w0).toBeGreaterThanOrEqual(250);
      expect(a.pendingInvalidations).toBe(1);
      // This router's own reads of that client take the safe path without asking the store.
      expect((await failure(a.get('rw', 'frozen|carol'))).outcome).toBe('pending');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await until('the missed invalidation to land', async () => a.pendingInvalidations === 0);
    await until('b to read no token', async () => (await b.get('rw', 'frozen|carol').catch(() => ({ token: 'err' }))).token === null);
  });

  it('a store that is down fails at once (unavailable) and comes back by itself after a restart', async () => {
    const a = store();
    await a.waitReady(5000);
    await stopProcess(pid, 5000);
    expect(isAlive(pid)).toBe(false);
    await until('the client to notice', () => !a.up);
    const t0 = Date.now();
    expect((await failure(a.get('rw', 'down|dave'))).outcome).toBe('unavailable');
    expect(Date.now() - t0).toBeLessThan(50);
    pid = await startRedis(port, dir);
    await until('reconnect', () => a.up);
    // A restarted store has forgotten every token: safe, the next read takes a fresh one.
    expect((await a.get('rw', 'down|dave')).token).toBeNull();
  });
});
