/**
 * ReplicaTracker: cached replica GTID position, health, and the shared server-side wait. No MySQL
 * and no HMS: the replica's GtidServer and its endpoint pools are stand-ins the test controls.
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { standInPool } from '../support/stand-in-pool';
import type { Logger } from 'pino';
import { ReplicaTracker, type CoverResult } from '../../src/consistency/replica-tracker';
import { formatGtid, parseGtid, type GtidState } from '../../src/consistency/gtid';
import type { GtidServer, ServerRole } from '../../src/consistency/gtid-server';
import type { EndpointPool } from '../../src/backends/endpoint-pool';
import { BackendError } from '../../src/backends/backend-error';
import { parseEndpoint } from '../../src/config/schema';

import { deferred, flush, type Deferred } from '../support/async-control';

const ma = (text: string): GtidState => parseGtid('mariadb', text);

/** A stand-in for a replica's GtidServer: every executed() and waitFor() is a deferred the test settles. */
function standInGtidServer() {
  const executedCalls: Array<{ role: ServerRole; reply: Deferred<GtidState> }> = [];
  const waitCalls: Array<{ token: string; timeoutMs: number; reply: Deferred<boolean> }> = [];
  const state = { secondsBehind: 3 as number | null, secondsBehindError: null as Error | null };
  const server = {
    label: 'stand-in replica r1',
    address: 'stand-in-replica:3306',
    executed(role: ServerRole): Promise<GtidState> {
      const reply = deferred<GtidState>();
      executedCalls.push({ role, reply });
      return reply.promise;
    },
    waitFor(token: GtidState, timeoutMs: number): Promise<boolean> {
      const reply = deferred<boolean>();
      waitCalls.push({ token: formatGtid(token), timeoutMs, reply });
      return reply.promise;
    },
    replicationStatus(): Promise<{ secondsBehind: number | null; sqlThreadRunning: boolean | null; sqlThreadError: string | null }> {
      return state.secondsBehindError === null
        ? Promise.resolve({ secondsBehind: state.secondsBehind, sqlThreadRunning: true, sqlThreadError: null })
        : Promise.reject(state.secondsBehindError);
    },
    close: (): Promise<void> => Promise.resolve(),
  };
  return { server: server as unknown as GtidServer, executedCalls, waitCalls, state };
}

function failing(address: string, message: string): BackendError {
  return new BackendError('connect_failed', address, message, false);
}

/** A stand-in logger that records what was logged. */
function standInLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const logger = {
    info: (_obj: object, msg: string) => { lines.push({ level: 'info', msg }); },
    warn: (_obj: object, msg: string) => { lines.push({ level: 'warn', msg }); },
  };
  return { logger: logger as unknown as Logger, lines };
}

function setup(poolCount = 1) {
  const s = standInGtidServer();
  const pools = Array.from({ length: poolCount }, (_, i) => standInPool(`replica-hms-${i}:9083`));
  const { logger, lines } = standInLogger();
  const tracker = new ReplicaTracker('r1', 'ms', s.server, pools as unknown as EndpointPool[], logger);
  /** Runs one poll that reads `position`. */
  const pollWith = async (position: string): Promise<void> => {
    const p = tracker.poll();
    const call = s.executedCalls[s.executedCalls.length - 1]!;
    expect(call.role).toBe('replica');
    call.reply.resolve(ma(position));
    await p;
  };
  return { tracker, pools, lines, pollWith, ...s };
}

describe('ReplicaTracker: polling and health', () => {
  it('before any poll: no position, nothing covered, unhealthy (not polled yet)', async () => {
    const { tracker, waitCalls } = setup();
    expect(tracker.executed).toBeNull();
    expect(tracker.coversNow(ma('0-1-0'))).toBe(false);
    expect(tracker.coversNow(ma('0-1-1'))).toBe(false);
    expect(tracker.unhealthyReason()).toBe('not polled yet');
    expect(await tracker.ensureCovers(ma('0-1-1'), 1000)).toBe('unhealthy');
    expect(waitCalls).toHaveLength(0);
  });

  it('poll() caches the position, the seconds behind, and marks the replica healthy', async () => {
    const { tracker, pollWith, lines } = setup();
    await pollWith('0-1-10,1-2-5');
    expect(formatGtid(tracker.executed!)).toBe('0-1-10,1-2-5');
    expect(tracker.secondsBehind).toBe(3);
    expect(tracker.unhealthyReason()).toBeNull();
    expect(tracker.coversNow(ma('0-1-10'))).toBe(true);
    expect(tracker.coversNow(ma('0-1-10,1-9-5'))).toBe(true); // server_id does not matter
    expect(tracker.coversNow(ma('0-1-11'))).toBe(false);
    expect(tracker.coversNow(ma('2-1-1'))).toBe(false); // a domain the replica lacks
    // The first successful poll is not a "reachable again".
    expect(lines).toEqual([]);
  });

  it('the cached position never moves backwards', async () => {
    const { tracker, pollWith } = setup();
    await pollWith('0-1-10,1-2-5');
    await pollWith('0-1-7,1-2-9'); // older in domain 0, newer in domain 1
    expect(formatGtid(tracker.executed!)).toBe('0-1-10,1-2-9');
    await pollWith('0-1-3');
    expect(formatGtid(tracker.executed!)).toBe('0-1-10,1-2-9');
    expect(tracker.coversNow(ma('0-1-10,1-2-9'))).toBe(true);
  });

  it('a poll that started before a newer one but ends after it does not move the position back', async () => {
    const { tracker, executedCalls } = setup();
    const slow = tracker.poll();
    const fast = tracker.poll();
    executedCalls[1]!.reply.resolve(ma('0-1-20'));
    await fast;
    executedCalls[0]!.reply.resolve(ma('0-1-15'));
    await slow;
    expect(formatGtid(tracker.executed!)).toBe('0-1-20');
  });

  it('a replica whose MySQL came back after failing is taken at the position it reports, even a lower one (rebuilt from a backup)', async () => {
    const { tracker, pollWith, executedCalls } = setup();
    await pollWith('0-1-10');
    const down = tracker.poll();
    executedCalls[1]!.reply.reject(new Error('MySQL replica r1 (h:3306): connect ECONNREFUSED'));
    await down;
    await pollWith('0-1-4');
    expect(tracker.unhealthyReason()).toBeNull();
    expect(formatGtid(tracker.executed!)).toBe('0-1-4');
    expect(tracker.coversNow(ma('0-1-10'))).toBe(false);
    // Reachable from then on: positions only grow again.
    await pollWith('0-1-3');
    expect(formatGtid(tracker.executed!)).toBe('0-1-4');
  });

  it('a poll failure marks the replica unhealthy with the error; it keeps its last position; a later poll heals it', async () => {
    const { tracker, pollWith, executedCalls, lines } = setup();
    await pollWith('0-1-10');
    const p = tracker.poll();
    executedCalls[1]!.reply.reject(new Error('MySQL ms replica r1 (h:3306): connect ECONNREFUSED'));
    await p;
    expect(tracker.unhealthyReason()).toBe('MySQL ms replica r1 (h:3306): connect ECONNREFUSED');
    expect(formatGtid(tracker.executed!)).toBe('0-1-10');
    expect(await tracker.ensureCovers(ma('0-1-5'), 1000)).toBe('unhealthy');
    expect(lines.map((l) => l.level)).toEqual(['warn']);

    // A second failure logs nothing new but updates the reason.
    const p2 = tracker.poll();
    executedCalls[2]!.reply.reject(new Error('timeout'));
    await p2;
    expect(tracker.unhealthyReason()).toBe('timeout');
    expect(lines.map((l) => l.level)).toEqual(['warn']);

    await pollWith('0-1-11');
    expect(tracker.unhealthyReason()).toBeNull();
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(await tracker.ensureCovers(ma('0-1-11'), 1000)).toBe('covered');
  });

  it('a poll whose executed() never succeeded leaves the replica unhealthy with that error', async () => {
    const { tracker, executedCalls } = setup();
    const p = tracker.poll();
    executedCalls[0]!.reply.reject(new Error('Access denied for user'));
    await p;
    expect(tracker.executed).toBeNull();
    expect(tracker.unhealthyReason()).toBe('Access denied for user');
  });

  it('a poll whose lag query fails marks the replica unhealthy', async () => {
    const { tracker, pollWith, state } = setup();
    state.secondsBehindError = new Error('SHOW SLAVE STATUS denied');
    await pollWith('0-1-10');
    expect(tracker.unhealthyReason()).toBe('SHOW SLAVE STATUS denied');
  });

  it('unhealthy when every HMS endpoint pool has a recent failure; healthy while one works', async () => {
    const { tracker, pools, pollWith, waitCalls } = setup(2);
    await pollWith('0-1-10');
    pools[0]!.failure = failing('replica-hms-0:9083', 'connect ECONNREFUSED replica-hms-0:9083');
    expect(tracker.unhealthyReason()).toBeNull();
    expect(tracker.pool()).toBe(pools[1]);
    pools[1]!.failure = failing('replica-hms-1:9083', 'connect ECONNREFUSED replica-hms-1:9083');
    expect(tracker.unhealthyReason()).toBe('connect ECONNREFUSED replica-hms-0:9083');
    expect(await tracker.ensureCovers(ma('0-1-5'), 1000)).toBe('unhealthy');
    expect(await tracker.ensureCovers(ma('0-1-50'), 1000)).toBe('unhealthy');
    expect(waitCalls).toHaveLength(0);
    expect(tracker.pool()).toBe(pools[0]); // none works: the first
    pools[0]!.failure = null;
    expect(tracker.unhealthyReason()).toBeNull();
    expect(tracker.pool()).toBe(pools[0]);
  });
});

describe('ReplicaTracker: ensureCovers', () => {
  it("returns 'covered' from the cached position without calling waitFor", async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10,1-2-5');
    expect(await tracker.ensureCovers(ma('0-1-10'), 1000)).toBe('covered');
    expect(await tracker.ensureCovers(ma('0-1-3,1-2-5'), 1000)).toBe('covered');
    expect(await tracker.ensureCovers(ma(''), 1000)).toBe('covered');
    expect(waitCalls).toHaveLength(0);
  });

  it('calls the server wait with the token and maxWaitMs when not covered; covered advances the cache', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const p = tracker.ensureCovers(ma('0-1-12'), 150);
    expect(waitCalls).toHaveLength(1);
    expect(waitCalls[0]!.token).toBe('0-1-12');
    expect(waitCalls[0]!.timeoutMs).toBe(150);
    waitCalls[0]!.reply.resolve(true);
    expect(await p).toBe('covered');
    // The replica reached the token: the next read of it costs no query.
    expect(tracker.coversNow(ma('0-1-12'))).toBe(true);
    expect(await tracker.ensureCovers(ma('0-1-11'), 150)).toBe('covered');
    expect(waitCalls).toHaveLength(1);
  });

  it("waitFor false → 'timeout'; the replica stays healthy and the cache unchanged", async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const p = tracker.ensureCovers(ma('0-1-12'), 100);
    waitCalls[0]!.reply.resolve(false);
    expect(await p).toBe('timeout');
    expect(tracker.unhealthyReason()).toBeNull();
    expect(formatGtid(tracker.executed!)).toBe('0-1-10');
    // The finished wait is not reused: the next read waits again.
    const q = tracker.ensureCovers(ma('0-1-12'), 100);
    expect(waitCalls).toHaveLength(2);
    waitCalls[1]!.reply.resolve(true);
    expect(await q).toBe('covered');
  });

  it("waitFor throws → 'unhealthy', and unhealthyReason() gives the error", async () => {
    const { tracker, pollWith, waitCalls, lines } = setup();
    await pollWith('0-1-10');
    const p = tracker.ensureCovers(ma('0-1-12'), 100);
    waitCalls[0]!.reply.reject(new Error('MySQL ms replica r1 (h:3306): Query inactivity timeout'));
    expect(await p).toBe('unhealthy');
    expect(tracker.unhealthyReason()).toBe('MySQL ms replica r1 (h:3306): Query inactivity timeout');
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    // Until a poll succeeds again, even covered tokens are refused.
    expect(await tracker.ensureCovers(ma('0-1-1'), 100)).toBe('unhealthy');
    expect(waitCalls).toHaveLength(1);
  });

  it("maxWaitMs 0 → 'timeout' without any query", async () => {
    const { tracker, pollWith, waitCalls, executedCalls } = setup();
    await pollWith('0-1-10');
    expect(await tracker.ensureCovers(ma('0-1-11'), 0)).toBe('timeout');
    expect(waitCalls).toHaveLength(0);
    expect(executedCalls).toHaveLength(1); // only the poll
    // A covered token is still 'covered' with maxWaitMs 0.
    expect(await tracker.ensureCovers(ma('0-1-10'), 0)).toBe('covered');
  });

  it('two concurrent ensureCovers with the same token share one waitFor', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const a = tracker.ensureCovers(ma('0-1-12'), 100);
    const b = tracker.ensureCovers(ma('0-1-12'), 100);
    expect(waitCalls).toHaveLength(1);
    waitCalls[0]!.reply.resolve(true);
    expect(await Promise.all([a, b])).toEqual(['covered', 'covered']);
  });

  it('a shared wait gives every joiner the same outcome (timeout, unhealthy)', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const a = tracker.ensureCovers(ma('0-1-12'), 100);
    const b = tracker.ensureCovers(ma('0-1-11'), 100);
    waitCalls[0]!.reply.resolve(false);
    expect(await Promise.all([a, b])).toEqual(['timeout', 'timeout']);

    const c = tracker.ensureCovers(ma('0-1-12'), 100);
    const d = tracker.ensureCovers(ma('0-1-12'), 100);
    expect(waitCalls).toHaveLength(2);
    waitCalls[1]!.reply.reject(new Error('gone'));
    expect(await Promise.all([c, d])).toEqual(['unhealthy', 'unhealthy']);
  });

  it('a smaller token joins an in-flight wait for a larger one', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10,1-2-4');
    const big = tracker.ensureCovers(ma('0-1-20,1-2-8'), 100);
    const small = tracker.ensureCovers(ma('0-1-15'), 100);
    const smallOther = tracker.ensureCovers(ma('0-1-12,1-2-8'), 100);
    expect(waitCalls).toHaveLength(1);
    waitCalls[0]!.reply.resolve(true);
    expect(await Promise.all([big, small, smallOther])).toEqual(['covered', 'covered', 'covered']);
    expect(formatGtid(tracker.executed!)).toBe('0-1-20,1-2-8');
  });

  it('a larger token does not join a smaller one\'s wait: it starts its own', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const small = tracker.ensureCovers(ma('0-1-12'), 100);
    const big = tracker.ensureCovers(ma('0-1-20'), 100);
    // Neither covers the other: also its own wait.
    const otherDomain = tracker.ensureCovers(ma('0-1-11,1-1-1'), 100);
    expect(waitCalls.map((w) => w.token)).toEqual(['0-1-12', '0-1-20', '0-1-11,1-1-1']);
    // The small wait reaching its target does not satisfy the big one.
    waitCalls[0]!.reply.resolve(true);
    expect(await small).toBe('covered');
    await flush();
    let bigResult: CoverResult | undefined;
    void big.then((r) => { bigResult = r; });
    await flush();
    expect(bigResult).toBeUndefined();
    waitCalls[1]!.reply.resolve(false);
    expect(await big).toBe('timeout');
    waitCalls[2]!.reply.resolve(true);
    expect(await otherDomain).toBe('covered');
  });

  it('a token covered by the cache after a wait started is answered from the cache', async () => {
    const { tracker, pollWith, waitCalls } = setup();
    await pollWith('0-1-10');
    const a = tracker.ensureCovers(ma('0-1-30'), 100);
    await pollWith('0-1-25');
    expect(await tracker.ensureCovers(ma('0-1-25'), 100)).toBe('covered');
    expect(waitCalls).toHaveLength(1);
    waitCalls[0]!.reply.resolve(true);
    expect(await a).toBe('covered');
  });

  it('MySQL-flavoured tokens: covered is a subset check, waits are shared by subset too', async () => {
    const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const my = (text: string): GtidState => parseGtid('mysql', text);
    const s = standInGtidServer();
    const { logger } = standInLogger();
    const tracker = new ReplicaTracker('r1', 'ms', s.server, [standInPool('h:9083')] as unknown as EndpointPool[], logger);
    const poll = tracker.poll();
    s.executedCalls[0]!.reply.resolve(my(`${U}:1-10`));
    await poll;
    expect(await tracker.ensureCovers(my(`${U}:3-7`), 100)).toBe('covered');
    const big = tracker.ensureCovers(my(`${U}:1-20`), 100);
    const small = tracker.ensureCovers(my(`${U}:12-15`), 100);
    expect(s.waitCalls).toHaveLength(1);
    s.waitCalls[0]!.reply.resolve(true);
    expect(await Promise.all([big, small])).toEqual(['covered', 'covered']);
    expect(formatGtid(tracker.executed!)).toBe(`${U}:1-20`);
  });
});

describe('ReplicaTracker: startPolling', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('polls at once, then every interval after the previous poll ended (never overlapping), until stopped', async () => {
    vi.useFakeTimers();
    const { tracker, executedCalls } = setup();
    const first = tracker.startPolling(100);
    expect(executedCalls).toHaveLength(1);
    executedCalls[0]!.reply.resolve(ma('0-1-1'));
    await first;
    expect(tracker.unhealthyReason()).toBeNull();
    await vi.advanceTimersByTimeAsync(99);
    expect(executedCalls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(executedCalls).toHaveLength(2);
    // This poll hangs: no other poll starts meanwhile.
    await vi.advanceTimersByTimeAsync(1000);
    expect(executedCalls).toHaveLength(2);
    executedCalls[1]!.reply.resolve(ma('0-1-2'));
    await vi.advanceTimersByTimeAsync(100);
    expect(executedCalls).toHaveLength(3);
    expect(formatGtid(tracker.executed!)).toBe('0-1-2');
    tracker.stopPolling();
    executedCalls[2]!.reply.resolve(ma('0-1-3'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(executedCalls).toHaveLength(3);
  });

  it('stopPolling before the first poll ends schedules nothing more', async () => {
    vi.useFakeTimers();
    const { tracker, executedCalls } = setup();
    const first = tracker.startPolling(100);
    await vi.advanceTimersByTimeAsync(0);
    tracker.stopPolling();
    executedCalls[0]!.reply.resolve(ma('0-1-1'));
    await first;
    await vi.advanceTimersByTimeAsync(1000);
    expect(executedCalls).toHaveLength(1);
  });
});
