/**
 * ApplyProgress: from a replica's poll samples, applying or stalled, and whether a read's token can
 * be reached within the wait. Pure: samples carry their own times.
 */
import { describe, expect, it } from 'vitest';
import { ApplyProgress, type ApplySample } from '../../src/consistency/apply-progress';
import { parseGtid, type GtidState } from '../../src/consistency/gtid';

const ma = (text: string): GtidState => parseGtid('mariadb', text);
const my = (text: string): GtidState => parseGtid('mysql', text);
const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

const STALL_AFTER = 2000;
const MAX_WAIT = 200;

function sample(at: number, executed: GtidState, primary: GtidState | null, sqlThreadRunning: boolean | null = true, sqlThreadError: string | null = null): ApplySample {
  return { at, executed, primary, sqlThreadRunning, sqlThreadError };
}

describe('ApplyProgress: stalled or applying', () => {
  it('an idle replica (it covers the primary) is never stalled, however long its position stays', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 60_000; t += 1000) p.observe(sample(t, ma('0-1-50'), ma('0-1-50')));
    expect(p.state.kind).toBe('applying');
    // A new write it has not applied yet is worth a wait.
    expect(p.catchUp(ma('0-1-50'), ma('0-1-51'), 60_000)).toBe('in_time');
  });

  it('SQL thread stopped: stalled once that lasted stallAfterMs, with the reason and the last SQL error', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    p.observe(sample(0, ma('0-1-50'), ma('0-1-50')));
    p.observe(sample(1000, ma('0-1-50'), ma('0-1-52'), false, "Error 'Duplicate entry' on query"));
    expect(p.state).toMatchObject({ kind: 'applying', notApplying: expect.stringContaining('SQL thread is not running') });
    expect(p.catchUp(ma('0-1-50'), ma('0-1-52'), 1000)).toBe('in_time');
    p.observe(sample(2000, ma('0-1-50'), ma('0-1-53'), false, "Error 'Duplicate entry' on query"));
    expect(p.state.kind).toBe('applying'); // 1 s of not applying so far
    p.observe(sample(3000, ma('0-1-50'), ma('0-1-54'), false, "Error 'Duplicate entry' on query"));
    expect(p.state).toEqual({ kind: 'stalled', since: 1000, reason: "its SQL thread is not running (last SQL error: Error 'Duplicate entry' on query)" });
    expect(p.catchUp(ma('0-1-50'), ma('0-1-54'), 3000)).toBe('stalled');
  });

  it('SQL thread stopped with nothing to apply: stalled too (no new write could be applied)', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 3000; t += 1000) p.observe(sample(t, ma('0-1-50'), ma('0-1-50'), false));
    expect(p.stalled).toBe(true);
  });

  it('a stop shorter than stallAfterMs (a restart of the SQL thread) never makes it stalled', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    let pos = 10;
    let primary = 10;
    for (let cycle = 0; cycle < 10; cycle++) {
      const base = cycle * 3000;
      // Stopped for 1.5 s (polls at +0, +1000 see it), then applying again.
      primary += 5;
      p.observe(sample(base, ma(`0-1-${pos}`), ma(`0-1-${primary}`), false));
      primary += 5;
      p.observe(sample(base + 1000, ma(`0-1-${pos}`), ma(`0-1-${primary}`), false));
      expect(p.stalled).toBe(false);
      pos = primary;
      p.observe(sample(base + 2000, ma(`0-1-${pos}`), ma(`0-1-${primary}`)));
      expect(p.state).toMatchObject({ kind: 'applying', notApplying: null });
    }
  });

  it('running but blocked (a long DDL or a lock): behind without progress for stallAfterMs is stalled; progress ends it', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    p.observe(sample(0, ma('0-1-50'), ma('0-1-50')));
    p.observe(sample(1000, ma('0-1-50'), ma('0-1-51')));
    p.observe(sample(2000, ma('0-1-50'), ma('0-1-55')));
    expect(p.stalled).toBe(false);
    p.observe(sample(3000, ma('0-1-50'), ma('0-1-58')));
    expect(p.state).toEqual({ kind: 'stalled', since: 1000, reason: 'it is behind the primary and its executed GTID has not advanced' });
    // One transaction applied: applying again (the next reads wait for it).
    p.observe(sample(3100, ma('0-1-51'), ma('0-1-58')));
    expect(p.state.kind).toBe('applying');
    // The interval that ended the lock holds idle time: no rate from it, so reads wait.
    expect(p.catchUp(ma('0-1-51'), ma('0-1-58'), 3100)).toBe('in_time');
  });

  it('a replica that applies steadily while a little behind is never stalled', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let i = 0; i < 100; i++) p.observe(sample(i * 200, ma(`0-1-${i}`), ma(`0-1-${i + 2}`)));
    expect(p.state.kind).toBe('applying');
  });

  it('the SQL thread started again: applying at the next poll, before it has applied anything', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 5000; t += 1000) p.observe(sample(t, ma('0-1-50'), ma('0-1-60'), false));
    expect(p.stalled).toBe(true);
    p.observe(sample(5100, ma('0-1-50'), ma('0-1-60'), true));
    expect(p.state).toMatchObject({ kind: 'applying', notApplying: null });
    // ... and if it then does not move, the clock starts from there, not from the old stop.
    p.observe(sample(5200, ma('0-1-50'), ma('0-1-60'), true));
    expect(p.stalled).toBe(false);
    p.observe(sample(7300, ma('0-1-50'), ma('0-1-60'), true));
    expect(p.stalled).toBe(true);
  });

  it('no primary position known yet: no stall from "no progress" (behind cannot be told)', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 10_000; t += 1000) p.observe(sample(t, ma('0-1-50'), null));
    expect(p.stalled).toBe(false);
  });

  it('per domain (MariaDB): behind in any domain counts', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 3000; t += 1000) p.observe(sample(t, ma('0-1-50,1-2-9'), ma('0-1-50,1-2-10')));
    expect(p.stalled).toBe(true);
  });

  it('MySQL GTID sets: stalled when behind without progress, applying again when the set grows', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    for (let t = 0; t <= 3000; t += 1000) p.observe(sample(t, my(`${U1}:1-50`), my(`${U1}:1-60`)));
    expect(p.stalled).toBe(true);
    expect(p.catchUp(my(`${U1}:1-50`), my(`${U1}:1-60`), 3000)).toBe('stalled');
    // A token the replica already covers is the caller's business (coversNow); a gap filled is progress.
    p.observe(sample(3100, my(`${U1}:1-50:52`), my(`${U1}:1-60`)));
    expect(p.state.kind).toBe('applying');
  });
});

describe('ApplyProgress: can the token be reached within the wait', () => {
  it('working off a large backlog: a token at the primary\'s head is too far, one near its position is in time', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    // Applies 1 transaction per ms (1000 per 1-s poll) with 20,000 to go.
    p.observe(sample(-1000, ma('0-1-0'), ma('0-1-22000')));
    p.observe(sample(0, ma('0-1-1000'), ma('0-1-22000')));
    expect(p.state).toMatchObject({ kind: 'applying', ratePerMs: null }); // one interval: maybe after a stop
    p.observe(sample(1000, ma('0-1-2000'), ma('0-1-22000')));
    expect(p.state).toMatchObject({ kind: 'applying', ratePerMs: 1, backlog: 20000 });
    expect(p.catchUp(ma('0-1-2000'), ma('0-1-22000'), 1000)).toBe('too_far_behind');
    expect(p.catchUp(ma('0-1-2000'), ma('0-1-2150'), 1000)).toBe('in_time');
    // 300 ms after the poll it has applied ~300 more: a token 450 past the sample needs ~150 ms.
    expect(p.catchUp(ma('0-1-2000'), ma('0-1-2450'), 1300)).toBe('in_time');
    expect(p.catchUp(ma('0-1-2000'), ma('0-1-2600'), 1300)).toBe('too_far_behind');
  });

  it('a small backlog (a transaction or two behind under steady writes): always wait, whatever the rate says', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    // Polls each see it 2 behind and 10 further on: a "rate" of 0.01 per ms that is only the write rate.
    p.observe(sample(-1000, ma('0-1-0'), ma('0-1-2')));
    p.observe(sample(0, ma('0-1-10'), ma('0-1-12')));
    p.observe(sample(1000, ma('0-1-20'), ma('0-1-22')));
    expect(p.state).toMatchObject({ kind: 'applying', ratePerMs: 0.01, backlog: 2 });
    // Right after a new stop, tokens pile up; the next poll will tell. Until then: wait as before.
    expect(p.catchUp(ma('0-1-20'), ma('0-1-40'), 1500)).toBe('in_time');
  });

  it('no rate from a poll interval that started caught up (the replica may have applied it at once)', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    p.observe(sample(0, ma('0-1-10'), ma('0-1-10')));
    p.observe(sample(1000, ma('0-1-20'), ma('0-1-5000')));
    expect(p.state).toMatchObject({ kind: 'applying', ratePerMs: null });
    expect(p.catchUp(ma('0-1-20'), ma('0-1-5000'), 1000)).toBe('in_time');
  });

  it('MySQL GTID sets: the backlog and the rate are counted in transactions', () => {
    const p = new ApplyProgress(STALL_AFTER, MAX_WAIT);
    p.observe(sample(-1000, my(`${U1}:1-500`), my(`${U1}:1-50000`)));
    p.observe(sample(0, my(`${U1}:1-1000`), my(`${U1}:1-50000`)));
    p.observe(sample(1000, my(`${U1}:1-1500`), my(`${U1}:1-50000`)));
    expect(p.state).toMatchObject({ kind: 'applying', ratePerMs: 0.5 });
    expect(p.catchUp(my(`${U1}:1-1500`), my(`${U1}:1-50000`), 1000)).toBe('too_far_behind');
    expect(p.catchUp(my(`${U1}:1-1500`), my(`${U1}:1-1550`), 1000)).toBe('in_time');
  });
});
