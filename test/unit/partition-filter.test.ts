import { describe, expect, it } from 'vitest';
import { compareLatin1Bin, compilePartitionFilter, FilterVerdict, PartitionKey } from '../../src/batching/partition-filter';
import { prng } from '../support/prng';

const KEYS: PartitionKey[] = [
  { name: 'day', type: 'string' },
  { name: 'hour', type: 'int' },
  { name: 'region', type: 'string' },
];

/** The compiled filter, failing the test with the reason when it was refused. */
function compiled(filter: string, keys: readonly PartitionKey[] = KEYS) {
  const c = compilePartitionFilter(filter, keys);
  if (!c.exact) throw new Error(`refused: ${c.reason}`);
  return c;
}

function verdict(filter: string, values: readonly string[], keys: readonly PartitionKey[] = KEYS): FilterVerdict {
  return compiled(filter, keys).matches(values);
}

function refusal(filter: string, keys: readonly PartitionKey[] = KEYS): string {
  const c = compilePartitionFilter(filter, keys);
  if (c.exact) throw new Error(`expected ${JSON.stringify(filter)} to be refused`);
  return c.reason;
}

const ROW = ['2024-01-01', '5', 'eu'];

describe('compareLatin1Bin (MariaDB latin1_bin, PAD SPACE)', () => {
  it('pads the shorter string with spaces', () => {
    expect(compareLatin1Bin('a', 'a ')).toBe(0);
    expect(compareLatin1Bin('a', 'a   ')).toBe(0);
    expect(compareLatin1Bin('a\t', 'a')).toBe(-1); // '\t' < ' '
    expect(compareLatin1Bin('a', 'a!')).toBe(-1);
    expect(compareLatin1Bin('', ' ')).toBe(0);
    expect(compareLatin1Bin('', '\x01')).toBe(1);
  });

  it('is case-sensitive byte order', () => {
    expect(compareLatin1Bin('EU', 'eu')).toBe(-1);
    expect(compareLatin1Bin('_', 'Z')).toBe(1);
    expect(compareLatin1Bin('_', 'a')).toBe(-1);
  });

  it('is antisymmetric and, above the space character, the order of right-trimmed strings (property, seeded)', () => {
    const next = prng(11);
    const randomAscii = (low: number) => {
      let s = '';
      const length = Math.floor(next() * 6);
      for (let i = 0; i < length; i++) s += String.fromCharCode(low + Math.floor(next() * (0x7f - low)));
      return s + ' '.repeat(Math.floor(next() * 3));
    };
    const plain = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    for (let n = 0; n < 5000; n++) {
      const a = randomAscii(1);
      const b = randomAscii(1);
      expect(compareLatin1Bin(a, b)).toBe(-compareLatin1Bin(b, a) || 0);
      const x = randomAscii(0x20);
      const y = randomAscii(0x20);
      expect(compareLatin1Bin(x, y), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).toBe(plain(x.trimEnd(), y.trimEnd()));
    }
  });
});

describe('compilePartitionFilter: string keys', () => {
  it('evaluates every comparison operator', () => {
    expect(verdict("day = '2024-01-01'", ROW)).toBe(true);
    expect(verdict("day <> '2024-01-01'", ROW)).toBe(false);
    expect(verdict("day != '2024-01-02'", ROW)).toBe(true);
    expect(verdict("day < '2024-01-02'", ROW)).toBe(true);
    expect(verdict("day <= '2024-01-01'", ROW)).toBe(true);
    expect(verdict("day > '2024-01-01'", ROW)).toBe(false);
    expect(verdict("day >= '2024-01-01'", ROW)).toBe(true);
  });

  it('puts the literal on the left when written there (isReverseOrder)', () => {
    expect(verdict("'2024-01-02' > day", ROW)).toBe(true);
    expect(verdict("'2024-01-02' < day", ROW)).toBe(false);
    expect(verdict("'eu' = region", ROW)).toBe(true);
  });

  it('compares with PAD SPACE', () => {
    expect(verdict("region = 'eu'", ['d', '1', 'eu '])).toBe(true);
    expect(verdict("region = 'eu  '", ['d', '1', 'eu'])).toBe(true);
    expect(verdict("region < 'eu'", ['d', '1', 'eu\t'])).toBe(true);
    expect(verdict("region = 'eu'", ['d', '1', 'EU'])).toBe(false);
  });

  it('takes quoted text as written: both quotes, backslashes kept (Filter.g TrimQuotes)', () => {
    expect(verdict('region = "eu"', ROW)).toBe(true);
    expect(verdict(`region = "it's"`, ['d', '1', "it's"])).toBe(true);
    expect(verdict(`region = 'it\\'s'`, ['d', '1', "it's"])).toBe(false);
    expect(verdict(`region = 'it\\'s'`, ['d', '1', "it\\'s"])).toBe(true);
    expect(verdict(`region = 'a\\b'`, ['d', '1', 'a\\b'])).toBe(true);
    expect(verdict(`region = ''`, ['d', '1', '__HIVE_DEFAULT_PARTITION__'])).toBe('inexact'); // '' is named so
  });

  it('says inexact for a value it cannot compare, only when that value decides', () => {
    expect(verdict("region = 'eu'", ['d', '1', 'café'])).toBe('inexact');
    expect(verdict("region = 'eu'", ['d', '1', 'a\x00'])).toBe('inexact');
    expect(verdict("day = 'x' and region = 'eu'", ['d', '1', 'café'])).toBe(false);
    expect(verdict("day = 'd' or region = 'eu'", ['d', '1', 'café'])).toBe(true);
    expect(verdict("hour = 1", ['café', '1', 'café'])).toBe(true);
  });
});

describe('compilePartitionFilter: integral keys', () => {
  it('compares canonical integers as numbers', () => {
    expect(verdict('hour = 5', ROW)).toBe(true);
    expect(verdict('hour > 10', ['d', '23', 'r'])).toBe(true);
    expect(verdict('hour > 10', ['d', '9', 'r'])).toBe(false);
    expect(verdict('hour < 0', ['d', '-3', 'r'])).toBe(true);
    expect(verdict('hour = 005', ROW)).toBe(true);
    expect(verdict('hour = -0', ['d', '0', 'r'])).toBe(true);
    expect(verdict('3 < hour', ROW)).toBe(true);
    expect(verdict('hour <> 5', ROW)).toBe(false);
  });

  it('compares values beyond long as decimal(21,0)', () => {
    const keys: PartitionKey[] = [{ name: 'n', type: 'bigint' }];
    expect(verdict('n > 9223372036854775807', ['12345678901234567890'], keys)).toBe(true);
    expect(verdict('n < -9223372036854775808', ['-123456789012345678901'], keys)).toBe(true);
    expect(verdict('n > 0', ['1234567890123456789012'], keys)).toBe('inexact'); // 22 digits do not fit
  });

  it('says inexact for values MariaDB would cast leniently', () => {
    for (const odd of ['007', ' 5', '5 ', '1.5', 'abc', '-0', '+5', '1e3']) {
      expect(verdict('hour = 5', ['d', odd, 'r']), odd).toBe('inexact');
    }
  });

  it('treats the default partition as NULL (false for every operator) and a stored "" as 0', () => {
    const c = compiled('hour <> 5');
    expect(c.matchesStored(['d', '__HIVE_DEFAULT_PARTITION__', 'r'])).toBe(false);
    expect(c.matchesStored(['d', '', 'r'])).toBe(true);
    expect(compiled('hour = 0').matchesStored(['d', '', 'r'])).toBe(true);
    // From a name both are possible: exact only where they agree.
    expect(c.matches(['d', '__HIVE_DEFAULT_PARTITION__', 'r'])).toBe('inexact');
    expect(compiled('hour = 5').matches(['d', '__HIVE_DEFAULT_PARTITION__', 'r'])).toBe(false);
    expect(compiled('hour > 0').matches(['d', '__HIVE_DEFAULT_PARTITION__', 'r'])).toBe(false);
  });

  it('uses the configured default partition name for integral keys', () => {
    const c = compilePartitionFilter('hour <> 5', KEYS, { defaultPartitionName: 'NULLPART' });
    if (!c.exact) throw new Error(c.reason);
    expect(c.matchesStored(['d', 'NULLPART', 'r'])).toBe(false);
    expect(c.matchesStored(['d', '__HIVE_DEFAULT_PARTITION__', 'r'])).toBe('inexact');
  });

  it('accepts every integral type name and nothing else', () => {
    for (const type of ['tinyint', 'smallint', 'int', 'bigint']) {
      expect(compilePartitionFilter('k = 1', [{ name: 'k', type }]).exact, type).toBe(true);
    }
    for (const type of ['INT', 'integer', 'date', 'varchar(10)', 'decimal(10,0)', 'timestamp', 'char(2)']) {
      expect(refusal("k = 'x'", [{ name: 'k', type }]), type).toContain(`type '${type}'`);
    }
  });
});

describe('compilePartitionFilter: the default partition name from names', () => {
  const keys: PartitionKey[] = [{ name: 'k', type: 'string' }];
  it('is exact where "" and the name give the same answer', () => {
    expect(verdict("k = 'a'", ['__HIVE_DEFAULT_PARTITION__'], keys)).toBe(false);
    expect(verdict("k < 'b'", ['__HIVE_DEFAULT_PARTITION__'], keys)).toBe(true);
    expect(verdict("k > 'Z'", ['__HIVE_DEFAULT_PARTITION__'], keys)).toBe('inexact');
    expect(verdict("k like '__HIVE.*'", ['__HIVE_DEFAULT_PARTITION__'], keys)).toBe('inexact');
  });

  it('is exact with stored values', () => {
    const c = compiled("k = '__HIVE_DEFAULT_PARTITION__'", keys);
    expect(c.matchesStored(['__HIVE_DEFAULT_PARTITION__'])).toBe(true);
    expect(c.matchesStored([''])).toBe(false);
  });
});

describe('compilePartitionFilter: logic and grammar', () => {
  it('binds AND tighter than OR, and respects parentheses', () => {
    const row = ['a', '1', 'x'];
    expect(verdict("day = 'a' or day = 'b' and hour = 2", row)).toBe(true);
    expect(verdict("(day = 'a' or day = 'b') and hour = 2", row)).toBe(false);
    expect(verdict("((day = 'a'))", row)).toBe(true);
  });

  it('is case-insensitive for keywords and key names', () => {
    expect(verdict("DAY = '2024-01-01' aNd HoUr = 5 Or REGION = 'x'", ROW)).toBe(true);
    expect(verdict("Day = '2024-01-01'", ROW, [{ name: 'DAY', type: 'string' }, ...KEYS.slice(1)])).toBe(true);
  });

  it('expands BETWEEN and NOT BETWEEN', () => {
    expect(verdict('hour between 5 and 7', ROW)).toBe(true);
    expect(verdict('hour between 6 and 7', ROW)).toBe(false);
    expect(verdict('hour not between 6 and 7', ROW)).toBe(true);
    expect(verdict('hour not between 5 and 7', ROW)).toBe(false);
    expect(verdict("region between 'a' and 'f' and hour = 5", ROW)).toBe(true);
    expect(refusal("hour between 1 and 'x'")).toContain('syntax error');
  });

  it('expands IN, NOT IN and multi-column IN', () => {
    expect(verdict('(hour) in (1, 5)', ROW)).toBe(true);
    expect(verdict('(hour) not in (1, 5)', ROW)).toBe(false);
    expect(verdict("(region) not in ('us')", ROW)).toBe(true);
    expect(verdict("(struct(day, hour)) in (const struct('x', 1), const struct('2024-01-01', 5))", ROW)).toBe(true);
    expect(verdict("(struct(day, hour)) not in (const struct('2024-01-01', 5))", ROW)).toBe(false);
    expect(verdict("(struct(day, hour)) not in (const struct('2024-01-01', 6))", ROW)).toBe(true);
    expect(refusal("(hour) in (1, 'x')")).toContain('syntax error');
    expect(refusal("(struct(day, hour)) in (const struct('x'))")).toContain('1 values for 2 keys');
  });

  it('matches every partition with the empty filter', () => {
    expect(verdict('', ROW)).toBe(true);
    expect(verdict('', ['x', 'not a number', 'café'])).toBe(true);
  });

  it('checks the number of values', () => {
    expect(() => compiled('hour = 5').matches(['a'])).toThrow(/expected 3 partition values/);
  });

  it('agrees with the expansions it stands for (property, seeded)', () => {
    const next = prng(99);
    const int = () => String(Math.floor(next() * 21) - 10);
    for (let n = 0; n < 500; n++) {
      const row = ['d', int(), 'r'];
      const [a, b, c] = [int(), int(), int()];
      expect(verdict(`hour between ${a} and ${b}`, row)).toBe(verdict(`hour >= ${a} and hour <= ${b}`, row));
      expect(verdict(`hour not between ${a} and ${b}`, row)).toBe(!verdict(`hour between ${a} and ${b}`, row));
      expect(verdict(`(hour) in (${a}, ${b}, ${c})`, row)).toBe(verdict(`hour = ${a} or hour = ${b} or hour = ${c}`, row));
      expect(verdict(`(hour) not in (${a}, ${b})`, row)).toBe(!verdict(`(hour) in (${a}, ${b})`, row));
      expect(verdict(`${a} < hour`, row)).toBe(verdict(`hour > ${a}`, row));
      expect(verdict(`${a} >= hour`, row)).toBe(verdict(`hour <= ${a}`, row));
    }
  });
});

describe('compilePartitionFilter: LIKE (the JDO path)', () => {
  const keys: PartitionKey[] = [{ name: 'k', type: 'string' }, { name: 'n', type: 'int' }];
  const like = (pattern: string, value: string) => verdict(`k like '${pattern}'`, [value, '1'], keys);

  it('turns .* into %, . into _, and keeps everything else literal', () => {
    expect(like('us.*', 'us/east')).toBe(true);
    expect(like('us.*', 'u')).toBe(false);
    expect(like('.*b', 'aXb')).toBe(true);
    expect(like('a.b', 'a\nb')).toBe(true); // SQL _ matches any character, unlike Java's '.'
    expect(like('a.b', 'ab')).toBe(false);
    expect(like('..*', '')).toBe(false);
    expect(like('.*', '')).toBe(true);
    expect(like('us_east', 'usXeast')).toBe(false);
    expect(like('us_east', 'us_east')).toBe(true);
    expect(like('100%', '1000')).toBe(false);
    expect(like('100%', '100%')).toBe(true);
    expect(like('a+', 'aa')).toBe(false);
    expect(like('a+', 'a+')).toBe(true);
    expect(like('a*', 'a*')).toBe(true);
    expect(like('a.*b.*c', 'aXbYbZc')).toBe(true);
    expect(like('a.*b.*c', 'aXbYbZ')).toBe(false);
  });

  it('does not pad and is case-sensitive', () => {
    expect(like('eu', 'eu ')).toBe(false);
    expect(like('eu', 'EU')).toBe(false);
    expect(like('', '__HIVE_DEFAULT_PARTITION__')).toBe('inexact'); // '' is named so
    expect(compiled("k like ''", keys).matchesStored(['', '1'])).toBe(true);
  });

  it('combines with other LIKEs only', () => {
    expect(verdict("k like 'a.*' or k like 'b.*'", ['b1', '1'], keys)).toBe(true);
    expect(refusal("k like 'a.*' and n = 1", keys)).toContain('LIKE next to other comparisons');
    expect(refusal("k like 'a.*' and k = 'a'", keys)).toContain('LIKE next to other comparisons');
  });

  it('refuses what it does not model', () => {
    expect(refusal("n like '1'", keys)).toContain("LIKE on partition key 'n' of type 'int'");
    expect(refusal("'a' like k", keys)).toContain('key on the left');
    expect(refusal('k like 5', keys)).toContain('string pattern');
    expect(refusal("k like 'a\\.b'", keys)).toContain('backslash');
    expect(refusal("k like 'a\tb'", keys)).toContain('printable ASCII');
    expect(refusal("k like '(?i)ab'", keys)).toContain('(?i)');
  });
});

describe('compilePartitionFilter: refusals name the cause', () => {
  it.each([
    ['NOT hour = 5', 'syntax error'],
    ['hour = 5 )', 'after a complete expression'],
    ['hour = 5 garbage', 'after a complete expression'],
    ['(hour = 5', "expected ')'"],
    ['hour = 5 and', 'found the end of the filter'],
    ['(hour) = 5', 'expected IN'],
    ['hour = 99999999999999999999', "outside Java's long range"],
    ['hour = 9223372036854775808', "outside Java's long range"],
    ['hour = +5', "unexpected character '+'"],
    ['hour = 5 && day = 1', "unexpected character '&'"],
    ['hour ! 5', "unexpected character '!'"],
    ["region = 'eu", 'unterminated string literal'],
    ['   ', 'only whitespace'],
    ['hour = 5\u000b', 'unexpected character'],
    ['hour = 1.5', "unexpected character '.'"],
    ['day = 2024-01-01', 'date literals'],
    ['hour = 1-1', 'date literals'],
    ['hour = 5and day = 1', 'lexes as an identifier'],
    ['_day = 1', "unexpected character '_'"],
    ['1day = 1', 'lexes as an identifier'],
    ["région = 'x'", 'unexpected character'],
    ["region = 'café'", 'non-ASCII'],
    ["region = 'a\u0000'", 'NUL'],
    ["nosuch = 'x'", "'nosuch' is not a partition key"],
    ["hour = '5'", 'compared with a string literal'],
    ['region = 5', 'compared with an integer literal'],
    ["in = 'x'", 'syntax error'],
  ])('%j', (filter, reason) => {
    expect(refusal(filter)).toContain(reason);
  });

  it('treats date as an identifier (Filter.g KW_DATE never matches the upper-cased stream)', () => {
    expect(verdict("date = 'x'", ['x'], [{ name: 'date', type: 'string' }])).toBe(true);
  });

  it('refuses tables it cannot resolve keys of', () => {
    expect(refusal("k = 'x'", [])).toContain('no partition keys');
    expect(refusal("k = 'x'", [{ name: 'k', type: 'string' }, { name: 'ı', type: 'string' }])).toContain('not plain ASCII');
  });
});
