import { describe, expect, it } from 'vitest';
import { ConnectionPool, PoolTimeoutError } from '../../src/backends/connection-pool';

interface Fake { readonly id: number; destroyed: boolean }

function fakePool(options: Partial<ConstructorParameters<typeof ConnectionPool<Fake>>[1]> = {}, failCreates = () => false) {
  let next = 0;
  const created: Fake[] = [];
  const errors: unknown[] = [];
  const pool = new ConnectionPool<Fake>({
    create: async () => {
      if (failCreates()) throw new Error('refused');
      const r = { id: next++, destroyed: false };
      created.push(r);
      return r;
    },
    destroy: (r) => { r.destroyed = true; },
  }, { max: 2, min: 0, acquireTimeoutMs: 50, idleTimeoutMs: 60_000, evictionRunIntervalMs: 0, onCreateError: (e) => errors.push(e), ...options });
  return { pool, created, errors };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ConnectionPool', () => {
  it('creates the minimum at start and lends idle connections first in, first out, synchronously', async () => {
    const { pool, created } = fakePool({ min: 2 });
    await tick();
    expect(created).toHaveLength(2);
    expect(pool.available).toBe(2);
    const a = pool.takeIdle()!;
    expect(a.id).toBe(0);
    expect(pool.borrowed).toBe(1);
    pool.release(a);
    expect(pool.takeIdle()!.id).toBe(1);
    expect(pool.takeIdle()!.id).toBe(0);
    expect(pool.takeIdle()).toBeUndefined();
  });

  it('creates up to max, then an acquire waits for a release or times out', async () => {
    const { pool } = fakePool();
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(pool.size).toBe(2);
    const waiting = pool.acquire();
    expect(pool.pending).toBe(1);
    pool.release(a);
    expect(await waiting).toBe(a);
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(pool.pending).toBe(0);
    pool.release(b);
    expect(pool.available).toBe(1);
  });

  it('a destroyed connection is replaced up to the minimum; a failed create is retried only for waiting acquires', async () => {
    let fail = false;
    const { pool, created, errors } = fakePool({ min: 1 }, () => fail);
    await tick();
    const a = pool.takeIdle()!;
    pool.destroy(a);
    expect(a.destroyed).toBe(true);
    await tick();
    expect(created).toHaveLength(2);
    fail = true;
    pool.destroy(pool.takeIdle()!);
    await tick();
    expect(errors).toHaveLength(1);
    expect(pool.size).toBe(0);
  });

  it('drain waits for lent connections; they are closed when returned, idle ones by clear', async () => {
    const { pool } = fakePool({ min: 1 });
    await tick();
    const idle = pool.takeIdle()!;
    pool.release(idle);
    const lent = await pool.acquire();
    let drained = false;
    const drain = pool.drain().then(() => { drained = true; });
    await tick();
    expect(drained).toBe(false);
    await expect(pool.acquire()).rejects.toThrow(/draining/);
    pool.release(lent);
    await drain;
    expect(lent.destroyed).toBe(true);
    await pool.clear();
    expect(pool.size).toBe(0);
  });

  it('evicts connections idle longer than idleTimeoutMs', async () => {
    const { pool, created } = fakePool({ min: 0, idleTimeoutMs: 1, evictionRunIntervalMs: 10 });
    pool.release(await pool.acquire());
    await new Promise((r) => setTimeout(r, 40));
    expect(created[0]!.destroyed).toBe(true);
    expect(pool.size).toBe(0);
    await pool.drain();
  });
});
