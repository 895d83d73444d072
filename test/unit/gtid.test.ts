import { describe, it, expect } from 'vitest';
import {
  GtidParseError,
  covers,
  formatGtid,
  isEmpty,
  merge,
  parseGtid,
  type GtidFlavor,
  type GtidState,
} from '../../src/consistency/gtid';
import { prng as mulberry32 } from '../support/prng';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
const U3 = '2174b383-5441-11e8-b90a-c80aa9429562';

const my = (text: string): GtidState => parseGtid('mysql', text);
const ma = (text: string): GtidState => parseGtid('mariadb', text);
const canon = (flavor: GtidFlavor, text: string): string => formatGtid(parseGtid(flavor, text));

function parseError(flavor: GtidFlavor, text: string): GtidParseError {
  try {
    parseGtid(flavor, text);
  } catch (e) {
    expect(e).toBeInstanceOf(GtidParseError);
    return e as GtidParseError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail to parse`);
}

describe('MySQL GTID sets: parse and format', () => {
  it('parses the docs-style gtid_executed text with newlines, mixed case and single numbers', () => {
    const text = `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9:11,\n  4e11fa47-71ca-11e1-9e33-c80aa9429562:1`;
    expect(canon('mysql', text)).toBe(`${U1}:1-5:7-9:11,${U2}:1`);
  });

  it('sorts uuids and lowercases them', () => {
    expect(canon('mysql', `${U2.toUpperCase()}:3,${U1}:1-2,\n${U3}:9`)).toBe(`${U3}:9,${U1}:1-2,${U2}:3`);
  });

  it('parses a single transaction', () => {
    expect(canon('mysql', `${U1}:42`)).toBe(`${U1}:42`);
    expect(canon('mysql', `${U1}:42-42`)).toBe(`${U1}:42`);
  });

  it('merges adjacent and overlapping intervals and repeated uuids', () => {
    expect(canon('mysql', `${U1}:1-5:6-9`)).toBe(`${U1}:1-9`);
    expect(canon('mysql', `${U1}:6-9:1-5:10`)).toBe(`${U1}:1-10`);
    expect(canon('mysql', `${U1}:1-5:3-7:20`)).toBe(`${U1}:1-7:20`);
    expect(canon('mysql', `${U1}:1-3,${U1}:4,${U1.toUpperCase()}:8-9`)).toBe(`${U1}:1-4:8-9`);
  });

  it('keeps gaps', () => {
    expect(canon('mysql', `${U1}:1-5:7-9`)).toBe(`${U1}:1-5:7-9`);
  });

  it('parses the empty set', () => {
    for (const text of ['', '  ', '\n', ',', ' , ,\n']) {
      const s = my(text);
      expect(isEmpty(s)).toBe(true);
      expect(formatGtid(s)).toBe('');
    }
    expect(isEmpty(my(`${U1}:1`))).toBe(false);
  });

  it('parses tagged GTIDs (MySQL 8.4), grouping them under their uuid like gtid_executed does', () => {
    expect(canon('mysql', `${U1}:Domain_1:1-3:15-21, ${U1}:Domain_2:8-52`)).toBe(`${U1}:domain_1:1-3:15-21:domain_2:8-52`);
    expect(canon('mysql', `${U1}:tag_b:1,${U1}:1-4:tag_a:1:5`)).toBe(`${U1}:1-4:tag_a:1:5:tag_b:1`);
    expect(canon('mysql', `${U1}:1-4:aaaa:1:abc:1-3,${U2}:1-2`)).toBe(`${U1}:1-4:aaaa:1:abc:1-3,${U2}:1-2`);
    // 32-character tag, underscore start
    const longTag = `_${'x'.repeat(31)}`;
    expect(canon('mysql', `${U1}:${longTag}:7`)).toBe(`${U1}:${longTag}:7`);
  });

  it('treats a tagged GTID as distinct from the untagged one with the same number', () => {
    expect(covers(my(`${U1}:1-10`), my(`${U1}:t:1`))).toBe(false);
    expect(covers(my(`${U1}:t:1-10`), my(`${U1}:1`))).toBe(false);
    expect(covers(my(`${U1}:1-10:T:1-10`), my(`${U1}:t:5,${U1}:5`))).toBe(true);
  });

  it('handles sequence numbers up to 2^63-1 exactly', () => {
    const max = (1n << 63n) - 1n;
    expect(canon('mysql', `${U1}:${max - 1n}:${max}`)).toBe(`${U1}:${max - 1n}-${max}`);
    expect(covers(my(`${U1}:1-${max}`), my(`${U1}:${max}`))).toBe(true);
    // 2^53+1 is where number would lose precision
    expect(covers(my(`${U1}:9007199254740992`), my(`${U1}:9007199254740993`))).toBe(false);
  });

  it('allows whitespace around separators', () => {
    expect(canon('mysql', ` ${U1} : 1 - 5 : 7 ,\n\t${U2}:1 `)).toBe(`${U1}:1-5:7,${U2}:1`);
  });
});

describe('MySQL GTID sets: covers and merge', () => {
  it('covers subsets only', () => {
    const replica = my(`${U1}:1-5:7-9:11,\n${U2}:1`);
    expect(covers(replica, my(''))).toBe(true);
    expect(covers(replica, my(`${U1}:3`))).toBe(true);
    expect(covers(replica, my(`${U1}:1-5:8`))).toBe(true);
    expect(covers(replica, my(`${U1}:5-7`))).toBe(false); // 6 is missing
    expect(covers(replica, my(`${U1}:10`))).toBe(false);
    expect(covers(replica, my(`${U1}:12`))).toBe(false);
    expect(covers(replica, my(`${U2}:1-2`))).toBe(false);
    expect(covers(replica, my(`${U3}:1`))).toBe(false); // uuid missing on the replica
    expect(covers(my(''), my(`${U1}:1`))).toBe(false);
    expect(covers(my(''), my(''))).toBe(true);
  });

  it('merge is the union, joining adjacent intervals', () => {
    expect(formatGtid(merge(my(`${U1}:1-5`), my(`${U1}:6-9,${U2}:3`)))).toBe(`${U1}:1-9,${U2}:3`);
    expect(formatGtid(merge(my(`${U1}:1-3:10`), my(`${U1}:5:7-8`)))).toBe(`${U1}:1-3:5:7-8:10`);
    expect(formatGtid(merge(my(`${U1}:1-3:10`), my(`${U1}:4-9`)))).toBe(`${U1}:1-10`);
    expect(formatGtid(merge(my(''), my(`${U1}:t:1`)))).toBe(`${U1}:t:1`);
  });
});

describe('MariaDB GTID positions', () => {
  it('parses, sorts by domain and formats', () => {
    expect(canon('mariadb', '1-2-57,0-1-100')).toBe('0-1-100,1-2-57');
    expect(canon('mariadb', '0-1-100, 1-2-57,\n 10-3-5')).toBe('0-1-100,1-2-57,10-3-5');
  });

  it('parses the empty position', () => {
    for (const text of ['', ' ', '\n']) {
      expect(isEmpty(ma(text))).toBe(true);
      expect(formatGtid(ma(text))).toBe('');
    }
    expect(isEmpty(ma('0-1-1'))).toBe(false);
    // seq_no 0 means nothing executed in that domain
    expect(isEmpty(ma('0-1-0'))).toBe(true);
    expect(formatGtid(ma('0-1-0'))).toBe('0-1-0');
  });

  it('keeps the higher seq_no when a domain is listed twice', () => {
    expect(canon('mariadb', '0-1-100,0-2-99')).toBe('0-1-100');
    expect(canon('mariadb', '0-2-99,0-1-100')).toBe('0-1-100');
    expect(canon('mariadb', '0-1-9,0-1-10')).toBe('0-1-10');
  });

  it('compares seq_no numerically, not lexically', () => {
    expect(covers(ma('0-1-10'), ma('0-1-9'))).toBe(true);
    expect(covers(ma('0-1-9'), ma('0-1-10'))).toBe(false);
    expect(formatGtid(merge(ma('0-1-9'), ma('0-1-10')))).toBe('0-1-10');
    expect(covers(ma('0-1-18446744073709551615'), ma('0-1-18446744073709551614'))).toBe(true);
    expect(covers(ma('0-1-9007199254740992'), ma('0-1-9007199254740993'))).toBe(false);
  });

  it('covers multi-domain positions per domain, ignoring server_id', () => {
    const replica = ma('0-1-100,1-2-57');
    expect(covers(replica, ma('0-1-100'))).toBe(true);
    expect(covers(replica, ma('0-7-50,1-9-57'))).toBe(true); // server_id does not matter
    expect(covers(replica, ma('0-1-101'))).toBe(false);
    expect(covers(replica, ma('0-1-1,1-2-58'))).toBe(false);
    expect(covers(replica, ma('2-1-1'))).toBe(false); // domain missing on the replica
    expect(covers(replica, ma('2-1-0'))).toBe(true); // ... unless the token has nothing in it
    expect(covers(replica, ma(''))).toBe(true);
    expect(covers(ma(''), ma('0-1-1'))).toBe(false);
  });

  it('merge takes the per-domain max and keeps that entry server_id', () => {
    expect(formatGtid(merge(ma('0-1-100,1-2-57'), ma('0-3-90,1-4-60,2-5-1')))).toBe('0-1-100,1-4-60,2-5-1');
    expect(formatGtid(merge(ma(''), ma('3-1-7')))).toBe('3-1-7');
    // tie on seq_no: the higher server_id, whichever side it comes from
    expect(formatGtid(merge(ma('0-1-5'), ma('0-2-5')))).toBe('0-2-5');
    expect(formatGtid(merge(ma('0-2-5'), ma('0-1-5')))).toBe('0-2-5');
  });
});

describe('parse errors', () => {
  it('names a bad uuid', () => {
    const e = parseError('mysql', `${U1}:1,3E11FA47-71CA-11E1-9E33-C80AA942956Z:1-5`);
    expect(e.message).toContain('bad UUID "3E11FA47-71CA-11E1-9E33-C80AA942956Z"');
    expect(parseError('mysql', 'not-a-uuid:1').message).toContain('bad UUID "not-a-uuid"');
    expect(parseError('mysql', `:1`).message).toContain('bad UUID ""');
  });

  it('names an interval whose start is greater than its end', () => {
    const e = parseError('mysql', `${U1}:1-5:9-7`);
    expect(e.message).toContain('"9-7"');
    expect(e.message).toContain('start 9 greater than end 7');
  });

  it('rejects negative and zero sequence numbers', () => {
    expect(parseError('mysql', `${U1}:-5`).message).toMatch(/negative sequence number "-5"/);
    expect(parseError('mysql', `${U1}:1--5`).message).toMatch(/negative sequence number in interval "1--5"/);
    expect(parseError('mysql', `${U1}:0-5`).message).toMatch(/sequence number 0 in interval "0-5"/);
    expect(parseError('mariadb', '0-1--5').message).toMatch(/negative number in MariaDB GTID position entry "0-1--5"/);
    expect(parseError('mariadb', '-1-1-5').message).toMatch(/negative number/);
  });

  it('rejects numbers out of range', () => {
    const max = (1n << 63n) - 1n;
    expect(parseError('mysql', `${U1}:1-${max + 1n}`).message).toMatch(/exceeds the maximum 2\^63-1/);
    expect(parseError('mariadb', '4294967296-1-1').message).toMatch(/domain 4294967296 .* exceeds/);
    expect(parseError('mariadb', '0-4294967296-1').message).toMatch(/server_id 4294967296 .* exceeds/);
    expect(parseError('mariadb', '0-1-18446744073709551616').message).toMatch(/seq_no .* exceeds/);
  });

  it('rejects garbage', () => {
    expect(parseError('mysql', 'garbage').message).toContain('bad UUID "garbage"');
    expect(parseError('mysql', `${U1}`).message).toMatch(/has no intervals/);
    expect(parseError('mysql', `${U1}:1::3`).message).toMatch(/empty interval/);
    expect(parseError('mysql', `${U1}:1:`).message).toMatch(/empty interval/);
    expect(parseError('mysql', `${U1}:1-x`).message).toContain('bad interval "1-x"');
    expect(parseError('mysql', `${U1}:1-2-3`).message).toContain('bad interval "1-2-3"');
    expect(parseError('mysql', `${U1}:+3`).message).toContain('"+3" is neither an interval');
    expect(parseError('mysql', `${U1}:tag`).message).toContain('tag "tag" has no intervals');
    expect(parseError('mysql', `${U1}:a:b:1`).message).toContain('tag "a" has no intervals');
    expect(parseError('mysql', `${U1}:bad-tag:1`).message).toContain('bad tag "bad-tag"');
    expect(parseError('mysql', `${U1}:${'t'.repeat(33)}:1`).message).toContain('bad tag');
    expect(parseError('mariadb', 'garbage').message).toContain('bad entry in MariaDB GTID position entry "garbage"');
    expect(parseError('mariadb', '0-1').message).toContain('"0-1"');
    expect(parseError('mariadb', '0-1-2-3').message).toContain('"0-1-2-3"');
    expect(parseError('mariadb', '0-1-x').message).toContain('"0-1-x"');
    expect(parseError('mariadb', '0-1-5,,1-1-1').message).toMatch(/empty entry/);
    expect(parseError('mariadb', `${U1}:1`).message).toContain('bad entry');
  });

  it('GtidParseError is an Error with its own name', () => {
    const e = parseError('mysql', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('GtidParseError');
  });
});

describe('flavor mismatch', () => {
  it('throws a plain Error (programming error) from covers and merge', () => {
    for (const f of [() => covers(my(''), ma('')), () => merge(ma('0-1-1'), my(`${U1}:1`))]) {
      expect(f).toThrow(/cannot combine a (mysql|mariadb) GTID state with a (mysql|mariadb) one/);
      try {
        f();
      } catch (e) {
        expect(e).not.toBeInstanceOf(GtidParseError);
      }
    }
  });

  it('rejects an unknown flavor', () => {
    expect(() => parseGtid('postgres' as GtidFlavor, '')).toThrow(/unknown GTID flavor/);
  });
});

// -------------------------------------------------------------------------------------------------
// Property tests with a seeded PRNG


type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, xs: readonly T[]): T => {
  const x = xs[Math.floor(rng() * xs.length)];
  if (x === undefined) throw new Error('pick from empty list');
  return x;
};
function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = xs[i] as T;
    xs[i] = xs[j] as T;
    xs[j] = tmp;
  }
  return xs;
}

const UUIDS = [U1, U2, U3];
const TAGS = ['', 'a', 'tag_2'];
const SMALL_MAX = 30;

/** An explicit MySQL GTID set: source key (`uuid` or `uuid:tag`) -> transaction numbers. */
type Explicit = Map<string, Set<bigint>>;

function randomExplicit(rng: Rng, big: boolean): Explicit {
  const out: Explicit = new Map();
  const nSources = int(rng, 0, 4);
  for (let i = 0; i < nSources; i++) {
    const uuid = pick(rng, UUIDS);
    const tag = pick(rng, TAGS);
    const key = tag === '' ? uuid : `${uuid}:${tag}`;
    const set = out.get(key) ?? new Set<bigint>();
    const density = rng();
    // big: numbers near 2^63-1 as well, still few enough to enumerate
    const base = big && rng() < 0.5 ? (1n << 63n) - 1n - BigInt(SMALL_MAX) : 0n;
    for (let n = 1; n <= SMALL_MAX; n++) if (rng() < density) set.add(base + BigInt(n));
    if (set.size > 0) out.set(key, set);
  }
  return out;
}

/** Renders an explicit set as text in a random (non-canonical) way: split/overlapping intervals, random order, case, whitespace. */
function renderExplicit(rng: Rng, e: Explicit): string {
  const elements: string[] = [];
  for (const [key, set] of e) {
    const nums = [...set].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const intervals: string[] = [];
    let i = 0;
    while (i < nums.length) {
      // take a run of consecutive numbers, possibly cut short
      let j = i;
      while (j + 1 < nums.length && nums[j + 1] === (nums[j] as bigint) + 1n && rng() < 0.8) j++;
      const a = nums[i] as bigint;
      const b = nums[j] as bigint;
      intervals.push(a === b && rng() < 0.7 ? `${a}` : `${a}-${b}`);
      // sometimes repeat a sub-interval (overlap)
      if (rng() < 0.15) intervals.push(`${a}`);
      i = j + 1;
    }
    shuffle(rng, intervals);
    const [uuid, tag] = key.includes(':') ? key.split(':') : [key, undefined];
    const u = rng() < 0.5 ? (uuid as string).toUpperCase() : (uuid as string);
    const t = tag === undefined ? '' : `:${rng() < 0.3 ? tag.toUpperCase() : tag}`;
    // sometimes split one source over several elements
    const cut = rng() < 0.3 ? int(rng, 1, intervals.length) : intervals.length;
    elements.push(`${u}${t}:${intervals.slice(0, cut).join(':')}`);
    if (cut < intervals.length) elements.push(`${u}${t}:${intervals.slice(cut).join(':')}`);
  }
  shuffle(rng, elements);
  return elements.map((el, k) => (k === 0 ? el : pick(rng, [',', ',\n', ', ', ',\n  ']) + el)).join('');
}

function explicitSubset(a: Explicit, b: Explicit): boolean {
  for (const [key, set] of a) {
    const other = b.get(key);
    for (const n of set) if (other === undefined || !other.has(n)) return false;
  }
  return true;
}

function explicitUnion(a: Explicit, b: Explicit): Explicit {
  const out: Explicit = new Map();
  for (const e of [a, b]) for (const [k, s] of e) out.set(k, new Set([...(out.get(k) ?? []), ...s]));
  return out;
}

/** Expands a parsed state back to explicit transaction numbers. */
function expand(state: GtidState): Explicit {
  if (state.flavor !== 'mysql') throw new Error('mysql only');
  const out: Explicit = new Map();
  for (const [key, list] of state.sets) {
    const s = new Set<bigint>();
    for (const iv of list) for (let n = iv.start; n <= iv.end; n++) s.add(n);
    out.set(key, s);
  }
  return out;
}

function sameExplicit(a: Explicit, b: Explicit): boolean {
  return explicitSubset(a, b) && explicitSubset(b, a);
}

function randomMysql(rng: Rng): GtidState {
  return my(renderExplicit(rng, randomExplicit(rng, rng() < 0.3)));
}

/** A random MariaDB position (random order, duplicates, whitespace), and its per-domain max. */
function randomMariadbText(rng: Rng): string {
  const entries: string[] = [];
  const n = int(rng, 0, 5);
  for (let i = 0; i < n; i++) {
    const domain = int(rng, 0, 4);
    const server = int(rng, 1, 3);
    const seq = rng() < 0.2 ? 18446744073709551615n - BigInt(int(rng, 0, 20)) : BigInt(int(rng, 0, 20));
    entries.push(`${domain}-${server}-${seq}`);
  }
  return entries.join(pick(rng, [',', ', ', ',\n']));
}

function randomMariadb(rng: Rng): GtidState {
  return ma(randomMariadbText(rng));
}

/** Per-domain seq_no, absent = 0. */
function seqs(state: GtidState): Map<number, bigint> {
  if (state.flavor !== 'mariadb') throw new Error('mariadb only');
  return new Map([...state.domains].map(([d, e]) => [d, e.seqNo]));
}

const RUNS = 400;

describe.each([
  ['mysql', randomMysql],
  ['mariadb', randomMariadb],
] as const)('%s properties (seeded)', (flavor, gen) => {
  const seedBase = flavor === 'mysql' ? 1000 : 2000;

  it('parse(format(x)) gives x back, and format is a fixed point', () => {
    const rng = mulberry32(seedBase + 1);
    for (let i = 0; i < RUNS; i++) {
      const x = gen(rng);
      const text = formatGtid(x);
      const y = parseGtid(flavor, text);
      expect(formatGtid(y)).toBe(text);
      expect(covers(x, y) && covers(y, x)).toBe(true);
      expect(y).toEqual(x);
    }
  });

  it('covers is reflexive', () => {
    const rng = mulberry32(seedBase + 2);
    for (let i = 0; i < RUNS; i++) {
      const x = gen(rng);
      expect(covers(x, x)).toBe(true);
    }
  });

  it('merge(a, b) covers a and b, and the empty state is covered by everything', () => {
    const rng = mulberry32(seedBase + 3);
    const empty = parseGtid(flavor, '');
    for (let i = 0; i < RUNS; i++) {
      const a = gen(rng);
      const b = gen(rng);
      const m = merge(a, b);
      expect(covers(m, a)).toBe(true);
      expect(covers(m, b)).toBe(true);
      expect(covers(a, empty)).toBe(true);
      expect(formatGtid(merge(a, empty))).toBe(formatGtid(a));
    }
  });

  it('merge is the least upper bound: whatever covers a and b covers merge(a, b)', () => {
    const rng = mulberry32(seedBase + 4);
    for (let i = 0; i < RUNS; i++) {
      const a = gen(rng);
      const b = gen(rng);
      const c = merge(merge(a, b), gen(rng));
      expect(covers(c, merge(a, b))).toBe(true);
      if (covers(a, b)) expect(covers(a, merge(a, b)) && covers(merge(a, b), a)).toBe(true);
    }
  });

  it('merge is commutative, associative and idempotent', () => {
    const rng = mulberry32(seedBase + 5);
    for (let i = 0; i < RUNS; i++) {
      const a = gen(rng);
      const b = gen(rng);
      const c = gen(rng);
      expect(formatGtid(merge(a, b))).toBe(formatGtid(merge(b, a)));
      expect(formatGtid(merge(merge(a, b), c))).toBe(formatGtid(merge(a, merge(b, c))));
      expect(formatGtid(merge(a, a))).toBe(formatGtid(a));
      expect(formatGtid(merge(merge(a, b), b))).toBe(formatGtid(merge(a, b)));
    }
  });

  it('covers is transitive on random chains and random triples', () => {
    const rng = mulberry32(seedBase + 6);
    let hits = 0;
    for (let i = 0; i < RUNS; i++) {
      // chain built by merging: c0 <= c1 <= ... <= c4
      const chain: GtidState[] = [gen(rng)];
      for (let k = 0; k < 4; k++) chain.push(merge(chain[chain.length - 1] as GtidState, gen(rng)));
      for (let lo = 0; lo < chain.length; lo++) {
        for (let hi = lo; hi < chain.length; hi++) {
          expect(covers(chain[hi] as GtidState, chain[lo] as GtidState)).toBe(true);
        }
      }
      // random triples: covers(a, b) && covers(b, c) => covers(a, c)
      const [a, b, c] = [gen(rng), gen(rng), gen(rng)];
      if (covers(a, b) && covers(b, c)) {
        hits++;
        expect(covers(a, c)).toBe(true);
      }
    }
    expect(hits).toBeGreaterThan(0);
  });

  it('isEmpty agrees with "covered by the empty state"', () => {
    const rng = mulberry32(seedBase + 7);
    const empty = parseGtid(flavor, '');
    for (let i = 0; i < RUNS; i++) {
      const x = gen(rng);
      expect(isEmpty(x)).toBe(covers(empty, x));
    }
  });
});

describe('mysql against a brute-force model (seeded)', () => {
  it('parse reads exactly the transactions in the text', () => {
    const rng = mulberry32(3001);
    for (let i = 0; i < RUNS; i++) {
      const e = randomExplicit(rng, rng() < 0.3);
      const s = my(renderExplicit(rng, e));
      expect(sameExplicit(expand(s), e)).toBe(true);
      expect(isEmpty(s)).toBe(e.size === 0);
    }
  });

  it('covers(a, b) is the subset test and merge is the union', () => {
    const rng = mulberry32(3002);
    let coveredCount = 0;
    for (let i = 0; i < 2000; i++) {
      const big = rng() < 0.2;
      const ea = randomExplicit(rng, big);
      // half the time make b a random subset of a, so that both outcomes are exercised
      let eb: Explicit;
      if (rng() < 0.5) {
        eb = new Map();
        for (const [k, s] of ea) {
          const sub = new Set([...s].filter(() => rng() < 0.7));
          if (rng() < 0.2) sub.add(BigInt(int(rng, 1, SMALL_MAX))); // maybe not a subset after all
          if (sub.size > 0) eb.set(k, sub);
        }
      } else {
        eb = randomExplicit(rng, big);
      }
      const a = my(renderExplicit(rng, ea));
      const b = my(renderExplicit(rng, eb));
      const expected = explicitSubset(eb, ea);
      if (expected) coveredCount++;
      expect(covers(a, b)).toBe(expected);
      expect(sameExplicit(expand(merge(a, b)), explicitUnion(ea, eb))).toBe(true);
    }
    expect(coveredCount).toBeGreaterThan(200);
    expect(coveredCount).toBeLessThan(1800);
  });

  it('formatGtid is canonical: sorted lowercase uuids, maximal intervals, single numbers as n', () => {
    const rng = mulberry32(3003);
    for (let i = 0; i < RUNS; i++) {
      const text = formatGtid(randomMysql(rng));
      expect(text).toBe(text.toLowerCase());
      expect(text).not.toMatch(/\s/);
      const uuids = text === '' ? [] : text.split(',').map((el) => el.slice(0, 36));
      expect(uuids).toEqual([...uuids].sort());
      expect(new Set(uuids).size).toBe(uuids.length);
      expect(text).not.toMatch(/:(\d+)-\1(?=[:,]|$)/); // no n-n
    }
  });
});

/** A position derived from `a`: entries dropped, lowered, kept, or (sometimes) raised by one. */
function nearby(rng: Rng, a: GtidState): GtidState {
  if (a.flavor !== 'mariadb') throw new Error('mariadb only');
  const entries: string[] = [];
  for (const e of a.domains.values()) {
    const r = rng();
    if (r < 0.2) continue;
    let seq = e.seqNo;
    if (r < 0.5) seq = seq - BigInt(int(rng, 0, 3));
    else if (r < 0.6) seq = seq + 1n;
    if (seq < 0n) seq = 0n;
    if (seq > 18446744073709551615n) seq = 18446744073709551615n;
    entries.push(`${e.domain}-${int(rng, 1, 3)}-${seq}`);
  }
  return ma(entries.join(','));
}

describe('mariadb against a brute-force model (seeded)', () => {
  it('covers(a, b) is the per-domain >= test and merge the per-domain max', () => {
    const rng = mulberry32(4001);
    let coveredCount = 0;
    for (let i = 0; i < 2000; i++) {
      const a = randomMariadb(rng);
      const b = rng() < 0.5 ? randomMariadb(rng) : nearby(rng, a);
      const sa = seqs(a);
      const sb = seqs(b);
      let expected = true;
      for (const [d, n] of sb) if ((sa.get(d) ?? 0n) < n) expected = false;
      if (expected) coveredCount++;
      expect(covers(a, b)).toBe(expected);
      const sm = seqs(merge(a, b));
      for (const d of new Set([...sa.keys(), ...sb.keys()])) {
        const x = sa.get(d) ?? 0n;
        const y = sb.get(d) ?? 0n;
        expect(sm.get(d)).toBe(x > y ? x : y);
      }
      expect(sm.size).toBe(new Set([...sa.keys(), ...sb.keys()]).size);
    }
    expect(coveredCount).toBeGreaterThan(200);
    expect(coveredCount).toBeLessThan(1800);
  });

  it('parse keeps, per domain, the entry with the max seq_no', () => {
    const rng = mulberry32(4002);
    for (let i = 0; i < RUNS; i++) {
      const text = randomMariadbText(rng);
      const expected = new Map<number, bigint>();
      for (const entry of text.split(',')) {
        if (entry.trim() === '') continue;
        const [d, , n] = entry.trim().split('-');
        const dn = Number(d);
        const nn = BigInt(n ?? '');
        if ((expected.get(dn) ?? -1n) < nn) expected.set(dn, nn);
      }
      expect(seqs(ma(text))).toEqual(expected);
    }
  });
});
