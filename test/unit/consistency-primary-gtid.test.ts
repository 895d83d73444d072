/**
 * PrimaryGtid: the primary's executed GTID, read on demand and coalesced. No MySQL: the server is a
 * stand-in whose executed() returns promises the test settles.
 */
import { describe, it, expect } from 'vitest';
import { PrimaryGtid } from '../../src/consistency/primary-gtid';
import { formatGtid, parseGtid, type GtidState } from '../../src/consistency/gtid';
import type { GtidServer, ServerRole } from '../../src/consistency/gtid-server';

import { deferred, flush, type Deferred } from '../support/async-control';

const ma = (text: string): GtidState => parseGtid('mariadb', text);

/** A stand-in for the primary's GtidServer: each executed() call is a deferred the test settles. */
function standInGtidServer() {
  const calls: Array<{ role: ServerRole; reply: Deferred<GtidState> }> = [];
  const server = {
    label: 'stand-in primary',
    address: 'stand-in:3306',
    executed(role: ServerRole): Promise<GtidState> {
      const reply = deferred<GtidState>();
      calls.push({ role, reply });
      return reply.promise;
    },
  };
  return { server: server as unknown as GtidServer, calls };
}

function setup() {
  const { server, calls } = standInGtidServer();
  let queries = 0;
  const primary = new PrimaryGtid(server, () => { queries++; });
  return { primary, calls, queries: () => queries };
}

/** Settles a promise into a record, so that a rejection is never unhandled. */
function settle<T>(p: Promise<T>): { readonly result: () => { ok: true; value: T } | { ok: false; error: Error } | undefined } {
  let result: { ok: true; value: T } | { ok: false; error: Error } | undefined;
  p.then((value) => { result = { ok: true, value }; }, (error: Error) => { result = { ok: false, error }; });
  return { result: () => result };
}

describe('PrimaryGtid', () => {
  it('one call issues one query, for the primary role, and returns its value', async () => {
    const { primary, calls, queries } = setup();
    const p = primary.current();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.role).toBe('primary');
    expect(queries()).toBe(1);
    calls[0]!.reply.resolve(ma('0-1-10'));
    expect(formatGtid(await p)).toBe('0-1-10');
    await flush();
    expect(calls).toHaveLength(1);
    expect(queries()).toBe(1);
  });

  it('sequential calls each issue a new query (no stale caching)', async () => {
    const { primary, calls, queries } = setup();
    const a = primary.current();
    calls[0]!.reply.resolve(ma('0-1-10'));
    expect(formatGtid(await a)).toBe('0-1-10');
    await flush();
    const b = primary.current();
    expect(calls).toHaveLength(2);
    calls[1]!.reply.resolve(ma('0-1-11'));
    expect(formatGtid(await b)).toBe('0-1-11');
    expect(queries()).toBe(2);
  });

  it('N callers arriving during a query share exactly one next query and get its value, not the first one', async () => {
    const { primary, calls, queries } = setup();
    const first = primary.current();
    const waiters = Array.from({ length: 5 }, () => primary.current());
    // Nothing new is sent while the first query is in flight.
    expect(calls).toHaveLength(1);
    const waiterResults = waiters.map(settle);

    calls[0]!.reply.resolve(ma('0-1-10'));
    expect(formatGtid(await first)).toBe('0-1-10');
    await flush();
    // The waiters arrived after the first query started: it may miss their commits, so they wait for a second.
    expect(calls).toHaveLength(2);
    expect(waiterResults.every((w) => w.result() === undefined)).toBe(true);

    calls[1]!.reply.resolve(ma('0-1-20'));
    const values = await Promise.all(waiters);
    expect(values.map(formatGtid)).toEqual(Array(5).fill('0-1-20'));
    // They all got the very same read.
    expect(new Set(values).size).toBe(1);
    await flush();
    expect(calls).toHaveLength(2);
    expect(queries()).toBe(2);
  });

  it('at most one query is in flight: callers arriving during the second query share a third', async () => {
    const { primary, calls, queries } = setup();
    const first = primary.current();
    const secondWaiters = [primary.current(), primary.current()];
    calls[0]!.reply.resolve(ma('0-1-1'));
    await first;
    await flush();
    expect(calls).toHaveLength(2);

    const thirdWaiters = [primary.current(), primary.current(), primary.current()];
    await flush();
    expect(calls).toHaveLength(2); // still one in flight
    calls[1]!.reply.resolve(ma('0-1-2'));
    expect((await Promise.all(secondWaiters)).map(formatGtid)).toEqual(['0-1-2', '0-1-2']);
    await flush();
    expect(calls).toHaveLength(3);
    calls[2]!.reply.resolve(ma('0-1-3'));
    expect((await Promise.all(thirdWaiters)).map(formatGtid)).toEqual(['0-1-3', '0-1-3', '0-1-3']);
    await flush();
    expect(calls).toHaveLength(3);
    expect(queries()).toBe(3);
  });

  it('a failed query rejects its callers, records lastError, and the next call issues a new query', async () => {
    const { primary, calls, queries } = setup();
    const a = settle(primary.current());
    const b = settle(primary.current());
    // Hold b's query: first fail a's.
    calls[0]!.reply.reject(new Error('MySQL x primary (h:3306): connect ECONNREFUSED'));
    await flush();
    expect(a.result()).toEqual({ ok: false, error: expect.objectContaining({ message: 'MySQL x primary (h:3306): connect ECONNREFUSED' }) });
    expect(primary.lastError).toBe('MySQL x primary (h:3306): connect ECONNREFUSED');
    expect(primary.last).toBeNull();
    // b arrived during the failed query: it gets its own next query, not the failure.
    expect(calls).toHaveLength(2);
    expect(b.result()).toBeUndefined();
    calls[1]!.reply.reject(new Error('still down'));
    await flush();
    expect(b.result()).toEqual({ ok: false, error: expect.objectContaining({ message: 'still down' }) });
    expect(primary.lastError).toBe('still down');

    // Nothing in flight now: the next call issues a new query, which can succeed.
    const c = primary.current();
    expect(calls).toHaveLength(3);
    calls[2]!.reply.resolve(ma('0-1-7'));
    expect(formatGtid(await c)).toBe('0-1-7');
    expect(primary.lastError).toBeNull();
    expect(formatGtid(primary.last!)).toBe('0-1-7');
    expect(queries()).toBe(3);
  });

  it('callers waiting for the next query get its value even though the first one failed', async () => {
    const { primary, calls } = setup();
    const first = settle(primary.current());
    const waiter = primary.current();
    calls[0]!.reply.reject(new Error('timeout'));
    await flush();
    expect(first.result()?.ok).toBe(false);
    expect(calls).toHaveLength(2);
    calls[1]!.reply.resolve(ma('0-1-9,1-2-3'));
    expect(formatGtid(await waiter)).toBe('0-1-9,1-2-3');
  });

  it('last keeps the previous value when a later query fails; lastError clears on success', async () => {
    const { primary, calls } = setup();
    const a = primary.current();
    calls[0]!.reply.resolve(ma('0-1-5'));
    await a;
    expect(formatGtid(primary.last!)).toBe('0-1-5');
    expect(primary.lastError).toBeNull();

    const b = settle(primary.current());
    calls[1]!.reply.reject(new Error('gone'));
    await flush();
    expect(b.result()?.ok).toBe(false);
    expect(formatGtid(primary.last!)).toBe('0-1-5');
    expect(primary.lastError).toBe('gone');

    const c = primary.current();
    calls[2]!.reply.resolve(ma('0-1-6'));
    await c;
    expect(formatGtid(primary.last!)).toBe('0-1-6');
    expect(primary.lastError).toBeNull();
  });

  it('onQuery is called once per query, when the query is sent', async () => {
    const { primary, calls, queries } = setup();
    expect(queries()).toBe(0);
    const first = primary.current();
    expect(queries()).toBe(1);
    const w1 = primary.current();
    const w2 = primary.current();
    expect(queries()).toBe(1);
    calls[0]!.reply.resolve(ma('0-1-1'));
    await first;
    await flush();
    expect(queries()).toBe(2);
    calls[1]!.reply.resolve(ma('0-1-2'));
    await Promise.all([w1, w2]);
    await flush();
    expect(queries()).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it('a caller arriving just after a query settled, before the waiters re-read, shares one read with them', async () => {
    // The waiters (arrived during query 1) need a read started after they arrived; so does the late
    // caller. One second query started after all of them serves everyone.
    const { primary, calls } = setup();
    const first = primary.current();
    const waiter = primary.current();
    let late: Promise<GtidState> | undefined;
    // The first caller's continuation runs in the same microtask burst that settles query 1, as a
    // read issued right after a previous read's token (e.g. by the same call chain) would.
    const chained = first.then(() => { late = primary.current(); });
    calls[0]!.reply.resolve(ma('0-1-1'));
    await chained;
    await flush();
    expect(calls).toHaveLength(2);
    calls[1]!.reply.resolve(ma('0-1-2'));
    await flush();
    const extraQuery = calls[2];
    extraQuery?.reply.resolve(ma('0-1-3')); // settle it anyway, so nothing is left hanging
    expect(formatGtid(await late!)).toBe('0-1-2');
    expect(formatGtid(await waiter)).toBe('0-1-2');
    // Expected: query 1 and one shared query 2; a query 3 is a wasted primary read and an extra
    // round trip of latency for the waiters.
    expect(calls).toHaveLength(2);
  });

  it('a probe reads without counting as a token query, and is skipped while a read is in flight', async () => {
    const { primary, calls, queries } = setup();
    const probe = primary.probe();
    expect(calls).toHaveLength(1);
    expect(queries()).toBe(0);
    // A token caller arriving during the probe gets a read that starts after it arrived.
    const token = settle(primary.current());
    void primary.probe(); // a read is in flight: no second probe query
    expect(calls).toHaveLength(1);
    calls[0]!.reply.resolve(ma('0-1-5'));
    await probe;
    expect(primary.lastReadAt).not.toBeNull();
    await flush();
    expect(calls).toHaveLength(2);
    expect(queries()).toBe(1);
    calls[1]!.reply.resolve(ma('0-1-6'));
    await flush();
    expect(token.result()).toEqual({ ok: true, value: ma('0-1-6') });
  });

  it('a failing probe marks the primary failing (never rejects); the next good read clears it', async () => {
    const { primary, calls } = setup();
    expect(primary.failing).toBe(false);
    const probe = primary.probe();
    calls[0]!.reply.reject(new Error('connect ECONNREFUSED 127.0.0.1:13306'));
    await probe;
    expect(primary.failing).toBe(true);
    expect(primary.lastError).toContain('ECONNREFUSED');
    const again = primary.probe();
    calls[1]!.reply.resolve(ma('0-1-7'));
    await again;
    expect(primary.failing).toBe(false);
    expect(formatGtid(primary.last!)).toBe('0-1-7');
  });
});
