import { describe, expect, it } from 'vitest';
import { nextStep, toEvent } from '../../src/cache/feed-snapshot';
import { retryDelay } from '../../src/cache/change-feed';
import type { FeedEvent } from '../../src/cache/feed-types';

const ev = (eventId: number): FeedEvent => ({ eventId, type: 'ALTER_TABLE', catalog: 'hive', db: 'd', table: 't' });
const evs = (...ids: number[]) => ids.map(ev);

describe('nextStep: the feed cursor', () => {
  it('starts at the newest EVENT_ID with a started reset and no events', () => {
    const s = nextStep(null, { maxEventId: 42, rows: [] }, 10);
    expect(s.reset?.reason).toBe('started');
    expect(s.events).toEqual([]);
    expect(s.cursor).toBe(42);
    expect(s.limited).toBe(false);
  });

  it('starts at 0 on an empty log', () => {
    expect(nextStep(null, { maxEventId: 0, rows: [] }, 10).cursor).toBe(0);
  });

  it('delivers consecutive events and moves the cursor to the last', () => {
    const s = nextStep(5, { maxEventId: 8, rows: evs(6, 7, 8) }, 10);
    expect(s.reset).toBeNull();
    expect(s.events.map((e) => e.eventId)).toEqual([6, 7, 8]);
    expect(s.cursor).toBe(8);
    expect(s.limited).toBe(false);
  });

  it('an empty read keeps the cursor and is not limited', () => {
    expect(nextStep(5, { maxEventId: 5, rows: [] }, 10)).toEqual({ reset: null, events: [], cursor: 5, limited: false });
  });

  it('stops at batchSize when the read holds one more row', () => {
    const s = nextStep(0, { maxEventId: 4, rows: evs(1, 2, 3) }, 2);
    expect(s.events.map((e) => e.eventId)).toEqual([1, 2]);
    expect(s.cursor).toBe(2);
    expect(s.limited).toBe(true);
  });

  it('exactly batchSize rows is complete', () => {
    expect(nextStep(0, { maxEventId: 2, rows: evs(1, 2) }, 2).limited).toBe(false);
  });

  it('a first row after cursor + 1 is a gap naming the missing ids; the rows are delivered', () => {
    const s = nextStep(5, { maxEventId: 10, rows: evs(9, 10) }, 10);
    expect(s.reset?.reason).toBe('gap');
    expect(s.reset?.detail).toContain('from 6 to 8');
    expect(s.events.map((e) => e.eventId)).toEqual([9, 10]);
    expect(s.cursor).toBe(10);
  });

  it('a hole between rows ends the batch before it, so the next read reports the gap', () => {
    const s = nextStep(5, { maxEventId: 10, rows: evs(6, 7, 9, 10) }, 10);
    expect(s.reset).toBeNull();
    expect(s.events.map((e) => e.eventId)).toEqual([6, 7]);
    expect(s.limited).toBe(true);
    const next = nextStep(s.cursor, { maxEventId: 10, rows: evs(9, 10) }, 10);
    expect(next.reset?.reason).toBe('gap');
  });

  it('a newest EVENT_ID below the cursor is rewound, restarting at it', () => {
    const s = nextStep(50, { maxEventId: 3, rows: [] }, 10);
    expect(s.reset?.reason).toBe('rewound');
    expect(s.reset?.detail).toContain('3');
    expect(s.cursor).toBe(3);
    expect(s.events).toEqual([]);
    expect(nextStep(50, { maxEventId: 0, rows: [] }, 10).cursor).toBe(0);
  });
});

describe('toEvent', () => {
  it('lower-cases names, keeps nulls and trims nothing', () => {
    expect(toEvent({ EVENT_ID: '7', EVENT_TYPE: 'CREATE_TABLE', CAT_NAME: 'Hive', DB_NAME: ' Sales ', TBL_NAME: null }))
      .toEqual({ eventId: 7, type: 'CREATE_TABLE', catalog: 'hive', db: ' sales ', table: null });
    expect(toEvent({ EVENT_ID: 8, EVENT_TYPE: Buffer.from('DROP_TABLE'), CAT_NAME: null, DB_NAME: Buffer.from('D'), TBL_NAME: 'T' }))
      .toEqual({ eventId: 8, type: 'DROP_TABLE', catalog: null, db: 'd', table: 't' });
  });
});

describe('retryDelay', () => {
  it('is the poll interval after a success, grows while failing, never beyond 1 s nor under the interval', () => {
    expect(retryDelay(100, 0)).toBe(100);
    expect(retryDelay(100, 1)).toBe(100);
    expect(retryDelay(100, 2)).toBe(200);
    expect(retryDelay(100, 3)).toBe(400);
    expect(retryDelay(100, 50)).toBe(1000);
    expect(retryDelay(5000, 3)).toBe(5000);
  });
});

describe('an altered table\'s former name, from the event message', () => {
  it('reads the json-0.2 and gzip(json-2.0) messages, lower-cased; anything else gives none', async () => {
    const { alteredTableBefore } = await import('../../src/cache/feed-snapshot');
    const { gzipSync } = await import('node:zlib');
    const json = JSON.stringify({ server: '', db: 'Sales', table: 'Old_Name', tableObjBeforeJson: '{}' });
    expect(alteredTableBefore(json, 'json-0.2')).toEqual({ db: 'sales', table: 'old_name' });
    expect(alteredTableBefore(gzipSync(json).toString('base64'), 'gzip(json-2.0)')).toEqual({ db: 'sales', table: 'old_name' });
    expect(alteredTableBefore('not json', 'json-0.2')).toBeNull();
    expect(alteredTableBefore(JSON.stringify({ db: 'x' }), 'json-0.2')).toBeNull();
    expect(alteredTableBefore(null, null)).toBeNull();
  });
});
