/**
 * The token store rules every store keeps (LocalTokenStore here; the Redis one against a real
 * server in test/integration/token-store.test.ts), and the token encoding the Redis store uses.
 */
import { describe, it, expect } from 'vitest';
import { LocalTokenStore } from '../../src/consistency/token-store';
import { decodeToken, encodeToken, redactUrl } from '../../src/consistency/token-store-redis';
import { covers, formatGtid, parseGtid } from '../../src/consistency/gtid';

const ma = (t: string) => parseGtid('mariadb', t);
const my = (t: string) => parseGtid('mysql', t);

describe('LocalTokenStore', () => {
  it('no token at first; an offered token is kept; a write removes it', async () => {
    const store = new LocalTokenStore(60_000);
    const first = await store.get('ms', '10.0.0.1|alice');
    expect(first.token).toBeNull();
    await store.offer('ms', '10.0.0.1|alice', first.generation, ma('0-1-5'));
    expect(formatGtid((await store.get('ms', '10.0.0.1|alice')).token!)).toBe('0-1-5');
    await store.invalidate('ms', '10.0.0.1|alice');
    expect((await store.get('ms', '10.0.0.1|alice')).token).toBeNull();
  });

  it('a token read before a write is not kept after it (the write would be shadowed)', async () => {
    const store = new LocalTokenStore(60_000);
    const before = await store.get('ms', 'c');
    await store.invalidate('ms', 'c');
    await store.offer('ms', 'c', before.generation, ma('0-1-5'));
    expect((await store.get('ms', 'c')).token).toBeNull();
  });

  it('the first token of a generation stays (a later offer does not replace it); metastores and clients are apart', async () => {
    const store = new LocalTokenStore(60_000);
    const g = (await store.get('ms', 'c')).generation;
    await store.offer('ms', 'c', g, ma('0-1-5'));
    await store.offer('ms', 'c', g, ma('0-1-9'));
    expect(formatGtid((await store.get('ms', 'c')).token!)).toBe('0-1-5');
    expect((await store.get('other', 'c')).token).toBeNull();
    expect((await store.get('ms', 'd')).token).toBeNull();
  });
});

describe('token encoding (Redis store)', () => {
  it('round-trips MariaDB positions and MySQL sets, flavour included', () => {
    for (const t of [ma('0-1-5,1-2-7'), my('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7'), my('')]) {
      const back = decodeToken(encodeToken(t));
      expect(back.flavor).toBe(t.flavor);
      expect(covers(back, t) && covers(t, back)).toBe(true);
    }
  });

  it('redactUrl hides the password only', () => {
    expect(redactUrl('redis://router:s3cret@store:6379/2')).toBe('redis://router:***@store:6379/2');
    expect(redactUrl('redis://store:6379')).toBe('redis://store:6379');
  });
});
