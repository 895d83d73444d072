/**
 * ClientTokens (client-mode token holders) and transactionsBehind (the lag metric).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { ClientTokens } from '../../src/consistency/session-tokens';
import { transactionsBehind } from '../../src/consistency/lag';
import { parseGtid, type GtidState } from '../../src/consistency/gtid';

const ma = (text: string): GtidState => parseGtid('mariadb', text);
const my = (text: string): GtidState => parseGtid('mysql', text);

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
const U3 = '2174b383-5441-11e8-b90a-c80aa9429562';

describe('ClientTokens', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('key: the client address without its port, and the user', () => {
    expect(ClientTokens.key('10.0.0.1:51234', 'alice')).toBe(ClientTokens.key('10.0.0.1:40000', 'alice'));
    expect(ClientTokens.key('10.0.0.1:51234', 'alice')).not.toBe(ClientTokens.key('10.0.0.2:51234', 'alice'));
    expect(ClientTokens.key('10.0.0.1:51234', 'alice')).not.toBe(ClientTokens.key('10.0.0.1:51234', 'bob'));
    expect(ClientTokens.key('10.0.0.1:51234', null)).not.toBe(ClientTokens.key('10.0.0.1:51234', 'alice'));
    // IPv6 addresses as the server builds them (address:port).
    expect(ClientTokens.key('::1:51234', 'alice')).toBe(ClientTokens.key('::1:40000', 'alice'));
    expect(ClientTokens.key('::ffff:10.0.0.1:51234', 'alice')).toBe(ClientTokens.key('::ffff:10.0.0.1:1', 'alice'));
    expect(ClientTokens.key('::ffff:10.0.0.1:51234', 'alice')).not.toBe(ClientTokens.key('::ffff:10.0.0.2:51234', 'alice'));
    expect(ClientTokens.key('2001:db8::1:51234', 'a')).not.toBe(ClientTokens.key('2001:db8::2:51234', 'a'));
  });

  it('the same ip (different ports) and the same user share one holder', () => {
    const tokens = new ClientTokens(60_000);
    const a = tokens.holder(ClientTokens.key('10.0.0.1:51234', 'alice'));
    const b = tokens.holder(ClientTokens.key('10.0.0.1:51999', 'alice'));
    expect(b).toBe(a);
    a.token = ma('0-1-5');
    a.generation = 3;
    expect(tokens.holder(ClientTokens.key('10.0.0.1:1', 'alice')).token).toBe(a.token);
    expect(tokens.holder(ClientTokens.key('10.0.0.1:1', 'alice')).generation).toBe(3);
    expect(tokens.size).toBe(1);
  });

  it('a different user or a different ip gets its own, empty holder', () => {
    const tokens = new ClientTokens(60_000);
    const alice = tokens.holder(ClientTokens.key('10.0.0.1:51234', 'alice'));
    alice.token = ma('0-1-5');
    const bob = tokens.holder(ClientTokens.key('10.0.0.1:51234', 'bob'));
    const anonymous = tokens.holder(ClientTokens.key('10.0.0.1:51234', null));
    const otherIp = tokens.holder(ClientTokens.key('10.0.0.2:51234', 'alice'));
    for (const h of [bob, anonymous, otherIp]) {
      expect(h).not.toBe(alice);
      expect(h.token).toBeNull();
      expect(h.generation).toBe(0);
    }
    expect(new Set([alice, bob, anonymous, otherIp]).size).toBe(4);
    expect(tokens.size).toBe(4);
  });

  it('a holder expires ttl after its last use: the next use gets a new, empty one', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    const tokens = new ClientTokens(10_000);
    const key = ClientTokens.key('10.0.0.1:5', 'alice');
    const first = tokens.holder(key);
    first.token = ma('0-1-5');
    vi.advanceTimersByTime(9_999);
    expect(tokens.holder(key)).toBe(first); // used again: ttl restarts here
    vi.advanceTimersByTime(9_999);
    expect(tokens.holder(key)).toBe(first);
    vi.advanceTimersByTime(10_000);
    const second = tokens.holder(key);
    expect(second).not.toBe(first);
    expect(second.token).toBeNull();
    expect(second.generation).toBe(0);
    expect(tokens.holder(key)).toBe(second);
  });

  it('expiry is exact: alive 1 ms before the ttl, gone at the ttl', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    const tokens = new ClientTokens(5_000);
    const a = tokens.holder('k1');
    const b = tokens.holder('k2');
    vi.advanceTimersByTime(4_999);
    expect(tokens.holder('k1')).toBe(a);
    vi.advanceTimersByTime(1);
    expect(tokens.holder('k2')).not.toBe(b);
  });

  it('expired entries are swept (the map does not grow without bound)', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
    const tokens = new ClientTokens(1_000);
    for (let i = 0; i < 500; i++) tokens.holder(`client-${i}`);
    expect(tokens.size).toBe(500);
    vi.advanceTimersByTime(1_001);
    // Sweeps run every 1024 lookups; one live client keeps using its holder.
    for (let i = 0; i < 1024; i++) tokens.holder('live');
    expect(tokens.size).toBe(1);
  });
});

describe('transactionsBehind: MariaDB', () => {
  it('one domain', () => {
    expect(transactionsBehind(ma('0-1-90'), ma('0-1-100'))).toBe(10n);
    expect(transactionsBehind(ma('0-1-100'), ma('0-1-100'))).toBe(0n);
  });

  it('sums over domains', () => {
    expect(transactionsBehind(ma('0-1-95,1-2-50,2-3-1'), ma('0-1-100,1-2-57,2-3-10'))).toBe(5n + 7n + 9n);
  });

  it('a domain the replica lacks counts its whole seq_no', () => {
    expect(transactionsBehind(ma('0-1-100,1-2-50'), ma('0-1-100,1-2-57,2-3-10'))).toBe(17n);
    expect(transactionsBehind(ma(''), ma('0-1-100,5-1-3'))).toBe(103n);
  });

  it('a domain where the replica is ahead counts 0, not negative; domains only the replica has are ignored', () => {
    expect(transactionsBehind(ma('0-1-120,1-2-50,9-9-999'), ma('0-1-100,1-2-57'))).toBe(7n);
  });

  it('server_id does not matter, only seq_no', () => {
    expect(transactionsBehind(ma('0-1-95'), ma('0-2-100'))).toBe(5n);
  });

  it('exact beyond 2^53', () => {
    expect(transactionsBehind(ma(''), ma('0-1-18446744073709551615'))).toBe(18446744073709551615n);
    expect(transactionsBehind(ma('0-1-9007199254740993'), ma('0-1-9007199254740995'))).toBe(2n);
  });
});

describe('transactionsBehind: MySQL', () => {
  it('one uuid, contiguous', () => {
    expect(transactionsBehind(my(`${U1}:1-90`), my(`${U1}:1-100`))).toBe(10n);
    expect(transactionsBehind(my(`${U1}:1-100`), my(`${U1}:1-100`))).toBe(0n);
  });

  it('sums over uuids; a uuid the replica lacks counts all its transactions', () => {
    expect(transactionsBehind(my(`${U1}:1-100,${U2}:1-20`), my(`${U1}:1-100,${U2}:1-50`))).toBe(30n);
    expect(transactionsBehind(my(`${U1}:1-5`), my(`${U1}:1-5,${U2}:1-10,${U3}:3-4`))).toBe(12n);
    expect(transactionsBehind(my(''), my(`${U1}:1-10:20-29`))).toBe(20n);
  });

  it('gaps on both sides are counted transaction by transaction', () => {
    // missing 6, 7 and 26..30
    expect(transactionsBehind(my(`${U1}:1-5:8-25`), my(`${U1}:1-10:20-30`))).toBe(7n);
    // missing 1, 4, 7..11, 16..18, 20
    expect(transactionsBehind(my(`${U1}:2-3:5-6:12-15:19`), my(`${U1}:1-20`))).toBe(11n);
    // one replica interval spans several primary intervals
    expect(transactionsBehind(my(`${U1}:3-9`), my(`${U1}:1-5:8-10`))).toBe(3n);
    // replica intervals before and after, none inside
    expect(transactionsBehind(my(`${U1}:1-9:21-30`), my(`${U1}:10-20`))).toBe(11n);
    // replica has extra transactions the primary does not list (e.g. local writes): not negative
    expect(transactionsBehind(my(`${U1}:1-3:5:100-200`), my(`${U1}:1-5`))).toBe(1n);
  });

  it('a replica ahead on some source counts 0 there', () => {
    expect(transactionsBehind(my(`${U1}:1-150,${U2}:1-5,${U3}:1-1000`), my(`${U1}:1-100,${U2}:1-10`))).toBe(5n);
    expect(transactionsBehind(my(`${U1}:1-150,${U2}:1-10`), my(`${U1}:1-100,${U2}:1-10`))).toBe(0n);
  });

  it('tagged GTIDs are their own source', () => {
    expect(transactionsBehind(my(`${U1}:1-5`), my(`${U1}:1-5:tag_a:1-3`))).toBe(3n);
    expect(transactionsBehind(my(`${U1}:tag_a:1-3`), my(`${U1}:1-5:tag_a:1-3`))).toBe(5n);
  });

  it('exact beyond 2^53', () => {
    expect(transactionsBehind(my(''), my(`${U1}:1-9223372036854775807`))).toBe(9223372036854775807n);
    expect(transactionsBehind(my(`${U1}:1-9007199254740993`), my(`${U1}:1-9007199254740995`))).toBe(2n);
  });

  it('an empty primary leaves no lag', () => {
    expect(transactionsBehind(my(`${U1}:1-5`), my(''))).toBe(0n);
  });
});

describe('transactionsBehind: flavours', () => {
  it('refuses to compare a MySQL set with a MariaDB position', () => {
    expect(() => transactionsBehind(my(`${U1}:1-5`), ma('0-1-5'))).toThrow(/flavours differ/);
    expect(() => transactionsBehind(ma('0-1-5'), my(`${U1}:1-5`))).toThrow(/flavours differ/);
  });
});
