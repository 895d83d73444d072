/**
 * Tables and get_partitions_by_filter cases that pin down what the router may evaluate itself
 * (src/batching/partition-filter.ts). Used against the real metastore by
 * test/integration/partition-filter-vs-metastore.test.ts, and meant to be reused by the
 * router-level batching test: the same filters through the router must answer as the metastore.
 */
import type { PartitionKey } from '../../src/batching/partition-filter';

export interface FilterTable {
  readonly name: string;
  /** As given to create_table; the metastore lower-cases the names. */
  readonly keys: readonly PartitionKey[];
  /** Partition values in key order, as given to add_partitions. */
  readonly partitions: ReadonlyArray<readonly string[]>;
}

/**
 * - exact: the router evaluates the filter and every partition's verdict is definite; its answer
 *   must equal the metastore's (same partitions, same order).
 * - inexact: the filter compiles, but some partition's name does not tell the router the answer
 *   (the router passes the call through); where verdicts are definite they must be right.
 * - refused: compilePartitionFilter says exact: false (pass-through).
 */
export type FilterExpectation = 'exact' | 'inexact' | 'refused';

export interface FilterCase {
  readonly table: string;
  readonly filter: string;
  readonly expect: FilterExpectation;
  /** What the metastore itself does with the filter: answer with partitions, or fail. */
  readonly metastore: 'answers' | 'fails';
  /** For refused cases: a fragment of the refusal reason. */
  readonly reason?: string;
  /** What the case shows. */
  readonly why: string;
}

/** Mixed key types, values that need escaping in names, negative numbers, case and padding. */
const events: FilterTable = {
  name: 'events',
  keys: [{ name: 'day', type: 'string' }, { name: 'Hour', type: 'int' }, { name: 'region', type: 'string' }],
  partitions: [
    ['2024-01-01', '0', 'eu'],
    ['2024-01-01', '5', 'us'],
    ['2024-01-01', '23', 'us/east'],
    ['2024-01-02', '-3', 'a:b'],
    ['2024-01-02', '10', 'k=v'],
    ['2024-01-02', '7', '100%'],
    ['2024-01-03', '12', 'new york'],
    ['2024-01-03', '-12', "it's"],
    ['2024-01-03', '1', 'say "hi"'],
    ['2024-01-04', '3', 'EU'],
    ['2024-01-04', '4', 'eu '],
    ['2024-01-04', '6', 'eu\t'],
    ['2024-01-05', '8', 'back\\slash'],
    ['2024-01-05', '9', "it\\'s"],
    ['2024-01-05', '2147483647', 'us_east'],
    ['2024-01-05', '-2147483648', 'usXeast'],
    ['2024-01-06', '11', 'a.b'],
    ['2024-01-06', '13', '#hash?*[x]^{y}'],
    ['2024-01-06', '14', 'tab\there'],
  ],
};

/**
 * The default partition name in both roles: '' stored (the name shows __HIVE_DEFAULT_PARTITION__)
 * and the literal stored, for a string and an integral key.
 */
const defaults: FilterTable = {
  name: 'defaults',
  keys: [{ name: 'k', type: 'string' }, { name: 'n', type: 'int' }],
  partitions: [
    ['a', '1'],
    ['b', '2'],
    ['', '3'],
    ['__HIVE_DEFAULT_PARTITION__', '4'],
    ['c', ''],
    ['d', '__HIVE_DEFAULT_PARTITION__'],
    ['e', '0'],
  ],
};

/** Values the router cannot compare: non-canonical integers, non-ASCII; long integers that it can. */
const messy: FilterTable = {
  name: 'messy',
  keys: [{ name: 'k', type: 'string' }, { name: 'n', type: 'bigint' }],
  partitions: [
    ['a', '1'],
    ['b', '007'],
    ['c', ' 5'],
    ['d', '1.5'],
    ['e', 'abc'],
    ['f', '-0'],
    ['g', '12345678901234567890'],
    ['h', '-123456789012345678901'],
    ['caf\u00e9', '5'],
    ['ok', '7'],
  ],
};

/** Every integral type, and key types the router refuses; key names that start with keywords. */
const kinds: FilterTable = {
  name: 'kinds',
  keys: [
    { name: 'origin', type: 'tinyint' },
    { name: 'index', type: 'smallint' },
    { name: 'notes', type: 'bigint' },
    { name: 'd', type: 'date' },
    { name: 'v', type: 'varchar(8)' },
  ],
  partitions: [
    ['1', '-1', '9000000000000000000', '2024-01-01', 'x'],
    ['-128', '32767', '-9223372036854775808', '2024-02-29', 'y'],
    ['127', '0', '0', '2023-12-31', 'z'],
  ],
};

export const FILTER_TABLES: readonly FilterTable[] = [events, defaults, messy, kinds];

const exact = (table: string, filter: string, why: string): FilterCase => ({ table, filter, expect: 'exact', metastore: 'answers', why });
const inexact = (table: string, filter: string, why: string): FilterCase => ({ table, filter, expect: 'inexact', metastore: 'answers', why });
const refused = (table: string, filter: string, metastore: FilterCase['metastore'], reason: string, why: string): FilterCase =>
  ({ table, filter, expect: 'refused', metastore, reason, why });

export const FILTER_CASES: readonly FilterCase[] = [
  // ---- string keys, every operator, quoting
  exact('events', "day = '2024-01-01'", 'string = in single quotes'),
  exact('events', 'day = "2024-01-01"', 'string = in double quotes'),
  exact('events', "day <> '2024-01-01'", '<>'),
  exact('events', "day != '2024-01-01'", '!='),
  exact('events', "day < '2024-01-03'", '<'),
  exact('events', "day <= '2024-01-03'", '<='),
  exact('events', "day > '2024-01-03'", '>'),
  exact('events', "day >= '2024-01-03'", '>='),
  exact('events', "'2024-01-03' < day", 'literal on the left'),
  exact('events', "'m' >= region", 'literal on the left, string'),
  exact('events', "region = 'eu'", "PAD SPACE: matches 'eu ' too, not 'eu\\t' nor 'EU'"),
  exact('events', "region < 'eu'", "PAD SPACE: 'eu\\t' sorts before 'eu'; 'EU' before 'eu'"),
  exact('events', "region <= 'eu'", 'PAD SPACE with <='),
  exact('events', "region > 'eu'", "PAD SPACE: 'eu ' is not greater than 'eu'"),
  exact('events', "region = 'eu   '", 'trailing spaces in the literal are padding too'),
  exact('events', "region = 'eu\t'", 'a tab in the literal is a character'),
  exact('events', "region = 'us/east'", "'/' (escaped %2F in the name)"),
  exact('events', "region = 'a:b'", "':' (escaped %3A)"),
  exact('events', "region = 'k=v'", "'=' (escaped %3D)"),
  exact('events', "region = '100%'", "'%' (escaped %25)"),
  exact('events', "region = 'new york'", 'a space (not escaped)'),
  exact('events', 'region = "it\'s"', 'a single quote inside double quotes'),
  exact('events', "region = 'say \"hi\"'", 'double quotes inside single quotes'),
  exact('events', "region = 'it\\'s'", 'a backslash escape stays in the value: matches the value it\\\'s'),
  exact('events', 'region = "say \\"hi\\""', 'escaped double quotes keep their backslashes: matches nothing'),
  exact('events', "region = 'back\\slash'", 'a backslash before an ordinary character stays'),
  exact('events', "region = '#hash?*[x]^{y}'", 'more escaped characters'),
  exact('events', "region = 'tab\there'", 'a control character (escaped %09)'),
  exact('events', "region >= 'us' and region < 'ut'", 'a prefix range'),
  // ---- integral keys
  exact('events', 'hour = 5', 'int ='),
  exact('events', 'hour <> 5', 'int <>'),
  exact('events', 'hour != 5', 'int !='),
  exact('events', 'hour < 0', 'negative numbers compare as numbers'),
  exact('events', 'hour <= -3', 'negative literal'),
  exact('events', 'hour > 10', 'numeric, not string, order (23 > 10 > 9)'),
  exact('events', 'hour >= 2147483647', 'int maximum'),
  exact('events', 'hour <= -2147483648', 'int minimum'),
  exact('events', '5 < hour', 'literal on the left'),
  exact('events', 'hour = 005', 'leading zeros in the literal (Long.parseLong)'),
  exact('events', 'hour = -0', 'minus zero literal'),
  exact('events', 'hour=5', 'no spaces'),
  exact('events', ' \t\r\nhour = 5\n ', 'every Filter.g whitespace'),
  // ---- AND, OR, parentheses, case
  exact('events', "day = '2024-01-01' and hour = 5", 'AND'),
  exact('events', "day = '2024-01-01' or hour = -3", 'OR'),
  exact('events', "day = '2024-01-01' or day = '2024-01-03' and hour > 0", 'AND binds tighter than OR'),
  exact('events', "(day = '2024-01-01' or day = '2024-01-03') and hour > 0", 'parentheses'),
  exact('events', "day = '2024-01-02' and (hour < 0 or region = 'k=v')", 'parentheses on the right'),
  exact('events', '((hour = 5))', 'nested parentheses'),
  exact('events', "DAY = '2024-01-01' AnD HOUR = 5 oR Region = 'eu'", 'key names and keywords in any case'),
  exact('events', "hour > 0 and hour < 10 and region <> 'us' and day >= '2024-01-02'", 'four-way AND'),
  exact('events', '', 'the empty filter: every partition'),
  // ---- BETWEEN, IN, STRUCT IN
  exact('events', 'hour between 0 and 10', 'BETWEEN: >= and <='),
  exact('events', 'hour not between 0 and 10', 'NOT BETWEEN: < or >'),
  exact('events', "region between 'a' and 'f'", 'BETWEEN on strings'),
  exact('events', '(hour) in (5, 23, -3)', 'IN'),
  exact('events', "(region) not in ('eu', 'us')", 'NOT IN (<> with PAD SPACE)'),
  exact('events', "(struct(day, hour)) in (const struct('2024-01-01', 5), const struct('2024-01-02', 10))", 'multi-column IN'),
  exact('events', "(struct(day, hour)) not in (const struct('2024-01-01', 5))", 'multi-column NOT IN'),
  // ---- LIKE (JDO path, SQL LIKE semantics)
  exact('events', "region like 'us.*'", '.* is %'),
  exact('events', "region like 'us_east'", "'_' is literal: not usXeast"),
  exact('events', "region like '100%'", "'%' is literal"),
  exact('events', "region like 'eu'", "no padding in LIKE: not 'eu '"),
  exact('events', "region like 'eu.*'", "'eu ', 'eu\\t' and 'eu'"),
  exact('events', "region like 'a.b'", "'.' is any one character: a.b and a:b"),
  exact('events', 'region like ".*\'s"', 'a single quote in the pattern'),
  exact('events', "region like 'say \"hi\"'", 'a double quote in the pattern'),
  exact('events', "region like '#hash?*[x]^{y}'", 'regex characters are literal'),
  exact('events', "region like 'us.*' or day like '2024-01-06'", 'LIKE OR LIKE'),
  exact('events', "Region LIKE '.*' and day like '2024-01-0.'", 'LIKE AND LIKE, upper case'),
  refused('events', "region like 'us.*' and hour = 5", 'fails', 'LIKE next to other comparisons', 'LIKE forces JDO, which fails on int keys'),
  refused('events', "region like 'eu.*' and day = '2024-01-04'", 'answers', 'LIKE next to other comparisons', 'JDO matches = on partition names'),
  refused('events', "hour like '5'", 'fails', 'LIKE on partition key', 'LIKE on an int key'),
  refused('events', "'eu' like region", 'fails', 'key on the left', 'LIKE with the value on the left'),
  refused('events', "region like 'back\\slash'", 'answers', 'backslash', 'backslash in a LIKE pattern'),
  refused('events', "region like '(?i)EU'", 'answers', '(?i)', 'case-insensitive regex prefix'),
  // ---- refused: types, names, syntax
  refused('events', "hour = '5'", 'fails', 'compared with a string literal', 'int key, string literal'),
  refused('events', 'region = 5', 'fails', 'compared with an integer literal', 'string key, integer literal'),
  refused('events', "nosuch = 'x'", 'fails', 'not a partition key', 'unknown key'),
  refused('events', 'NOT hour = 5', 'fails', 'syntax error', 'Filter.g has no unary NOT'),
  refused('events', 'NOT (hour = 5)', 'fails', 'syntax error', 'no NOT before parentheses either'),
  refused('events', 'hour = 5 )', 'answers', 'after a complete expression', 'the metastore ignores trailing tokens'),
  refused('events', 'hour = 5 garbage', 'answers', 'after a complete expression', 'the metastore ignores trailing tokens'),
  refused('events', '(hour = 5', 'fails', 'syntax error', 'unbalanced parenthesis'),
  refused('events', 'hour = 5 and', 'fails', 'syntax error', 'dangling AND'),
  refused('events', '(hour) = 5', 'fails', 'syntax error', '(key) is only for IN'),
  refused('events', 'hour in (5)', 'fails', 'syntax error', 'IN needs (key)'),
  refused('events', 'hour = 99999999999999999999', 'fails', 'long range', 'Long.parseLong overflow'),
  refused('events', 'hour = +5', 'fails', 'unexpected character', 'no unary plus'),
  refused('events', 'hour = 5 && day = \'x\'', 'fails', 'unexpected character', '&& is not an operator'),
  refused('events', "region = 'eu", 'fails', 'unterminated', 'unterminated literal'),
  refused('events', '   ', 'fails', 'only whitespace', 'whitespace only'),
  refused('events', "hour = 5\u000band day = 'x'", 'fails', 'unexpected character', 'vertical tab is not Filter.g whitespace'),
  refused('events', "day = 2024-01-01", 'answers', 'date literal', 'unquoted date literal (JDO compares it as a string)'),
  refused('events', 'hour = 5and day = \'x\'', 'fails', 'lexes as an identifier', 'digits glued to letters'),
  refused('events', "region = 'caf\u00e9'", 'answers', 'non-ASCII', 'non-ASCII literal'),
  refused('events', "(struct(day, hour)) in (const struct('2024-01-01'))", 'answers', 'values for 2 keys', 'STRUCT tuple shorter than the key list'),
  // ---- the default partition name: '' or the literal
  exact('defaults', "k = 'a'", 'both readings of __HIVE_DEFAULT_PARTITION__ are false'),
  exact('defaults', "k < 'b'", "'' and '__HIVE...' are both below 'b'"),
  inexact('defaults', "k > 'Z'", "'' is not above 'Z', '__HIVE...' is: the name cannot tell"),
  inexact('defaults', "k = ''", "k='' and k='__HIVE_DEFAULT_PARTITION__' have the same name"),
  inexact('defaults', "k = '__HIVE_DEFAULT_PARTITION__'", 'the same ambiguity'),
  exact('defaults', 'n = 1', 'the literal default is NULL and \'\' casts to 0: both false'),
  exact('defaults', 'n > 0', 'NULL and 0 are both not > 0'),
  inexact('defaults', 'n = 0', "'' casts to 0 (true), the literal default is NULL (false)"),
  inexact('defaults', 'n <> 1', 'NULL <> 1 is not true, 0 <> 1 is'),
  exact('defaults', "k = 'a' or n = 2", 'OR of definite leaves'),
  exact('defaults', "k = 'b' and n = 0", 'AND with a false side is definite although n is ambiguous'),
  // ---- values the router cannot compare
  inexact('messy', 'n = 7', "'007' casts to 7 in MariaDB, but the router compares canonical integers only"),
  inexact('messy', "k = 'ok'", 'a non-ASCII value is not compared'),
  exact('messy', "k = 'ok' and n = 7", 'non-canonical and non-ASCII values are never needed: the other side of the AND decides'),
  exact('messy', "n > 9223372036854775807 and k = 'g'", 'a 20-digit value (beyond long) compares as decimal(21,0)'),
  exact('messy', "n < -9223372036854775808 and k = 'h'", 'a 21-digit value'),
  inexact('messy', "k like 'caf.*'", 'LIKE on a non-ASCII value'),
  // ---- integral types, refused key types, keyword-prefixed key names
  exact('kinds', 'origin = 127', 'tinyint'),
  exact('kinds', 'origin <= -128', 'tinyint minimum'),
  exact('kinds', 'index < 0', 'smallint, a key named like the IN keyword'),
  exact('kinds', 'index >= 32767', 'smallint maximum'),
  exact('kinds', 'notes <= -9223372036854775808', 'bigint minimum (Java long minimum literal)'),
  exact('kinds', 'notes > 8999999999999999999', 'bigint'),
  exact('kinds', 'origin >= -128 and index <> 0 or notes = 0', 'integral mix'),
  refused('kinds', "d = '2024-01-01'", 'answers', "type 'date'", 'date key (direct SQL casts to date)'),
  refused('kinds', 'd = 2024-01-01', 'answers', 'date literal', 'date key, date literal'),
  refused('kinds', "v = 'x'", 'fails', "type 'varchar(8)'", 'varchar key'),
];
