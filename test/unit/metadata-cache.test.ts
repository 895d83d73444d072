import { describe, expect, it } from 'vitest';
import { MetadataCache, type CachedReply } from '../../src/cache/metadata-cache';
import { parseGtid } from '../../src/consistency/gtid';

const at = (seq: number) => parseGtid('mariadb', `0-1-${seq}`);

function reply(position: number | null, dependsOn: string[], size = 10): CachedReply {
  return { bytes: Buffer.alloc(size, 1), seqidOffset: 0, position: position === null ? null : at(position), dependsOn };
}

describe('MetadataCache fills against the feed', () => {
  it('stores an answer whose objects have no change mark, and gives it back', () => {
    const cache = new MetadataCache(1 << 20);
    expect(cache.fill('k', reply(5, ['t|hive|db|a']), cache.ticket())).toBe('stored');
    expect(cache.get('k')?.position).toEqual(at(5));
    expect(cache.size).toBe(1);
  });

  it('removes the entries of an object the feed reports changed, and only those', () => {
    const cache = new MetadataCache(1 << 20);
    cache.fill('a', reply(5, ['t|hive|db|a', 'd|hive|db']), cache.ticket());
    cache.fill('b', reply(5, ['t|hive|db|b', 'd|hive|db']), cache.ticket());
    expect(cache.changed(['t|hive|db|a'], 1, at(6))).toBe(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
    // A database-level change reaches every table entry of the database.
    expect(cache.changed(['d|hive|db'], 2, at(7))).toBe(1);
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('refuses an answer whose call started before a change the feed read during the call', () => {
    const cache = new MetadataCache(1 << 20);
    const ticket = cache.ticket();
    cache.changed(['t|hive|db|a'], 1, at(6));
    // Even a position covering the change: the event came after the ticket, so the order is unknown.
    expect(cache.fill('k', reply(9, ['t|hive|db|a']), ticket)).toBe('changed_during_call');
    expect(cache.fill('k', reply(9, ['t|hive|db|b']), ticket)).toBe('stored');
  });

  it('refuses an answer read at a position that does not cover the last change of its objects (a lagging replica)', () => {
    const cache = new MetadataCache(1 << 20);
    cache.changed(['t|hive|db|a'], 1, at(6));
    const ticket = cache.ticket();
    expect(cache.fill('k', reply(5, ['t|hive|db|a']), ticket)).toBe('older_than_change');
    expect(cache.fill('k', reply(null, ['t|hive|db|a']), ticket)).toBe('older_than_change');
    expect(cache.fill('k', reply(6, ['t|hive|db|a']), ticket)).toBe('stored');
  });

  it('refuses tickets from before a reset and forgets everything', () => {
    const cache = new MetadataCache(1 << 20);
    const before = cache.ticket();
    cache.fill('k', reply(5, ['x']), before);
    cache.reset(0);
    expect(cache.size).toBe(0);
    expect(cache.fill('k', reply(5, ['x']), before)).toBe('reset');
    expect(cache.fill('k', reply(5, ['x']), cache.ticket())).toBe('stored');
  });

  it('keeps within maxBytes by dropping the least recently used entries', () => {
    // Each entry costs ~1,130 bytes (reply, key, bookkeeping): four fit in 4,600, five do not.
    const cache = new MetadataCache(4600);
    for (const key of ['a', 'b', 'c', 'd']) expect(cache.fill(key, reply(1, [`t|hive|db|${key}`], 900), cache.ticket())).toBe('stored');
    cache.get('a'); // a is now more recent than b
    cache.fill('e', reply(1, ['t|hive|db|e'], 900), cache.ticket());
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.size).toBe(4);
    expect(cache.bytes).toBeLessThanOrEqual(4600);
    cache.setMaxBytes(1200);
    expect(cache.size).toBe(1);
    expect(cache.fill('huge', reply(1, ['x'], 2000), cache.ticket())).toBe('too_large');
  });

  it('folds many change marks into a floor that stays strict', () => {
    const cache = new MetadataCache(1 << 20);
    for (let i = 1; i <= 100_001; i++) cache.changed([`t|hive|db|t${i}`], i, at(i));
    const ticket = cache.ticket();
    // Marks of other objects folded into the floor: an answer must now cover all of them.
    expect(cache.fill('k', reply(50_000, ['t|hive|db|other']), ticket)).toBe('older_than_change');
    expect(cache.fill('k', reply(100_001, ['t|hive|db|other']), ticket)).toBe('stored');
    expect(cache.fill('k2', reply(100_001, ['t|hive|db|other']), { ...ticket, eventId: 5 })).toBe('older_than_change');
  });
});
