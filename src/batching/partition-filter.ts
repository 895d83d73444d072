/**
 * The partition filter of get_partitions_by_filter, evaluated by the router exactly as a Hive 3.1.3
 * metastore on MariaDB (schema hive-schema-3.1.0.mysql.sql) evaluates it, or refused.
 *
 * The router may answer such a call from partition names (list names, evaluate, fetch the matches
 * by name) only when its answer is the metastore's. So this module accepts the subset of the filter
 * language whose metastore semantics are pinned down by the metastore's source and by
 * test/integration/partition-filter-vs-metastore.test.ts, and refuses the rest with a reason: the
 * router then passes the call through and the client gets the metastore's own answer or error.
 *
 * How the metastore evaluates a filter (ObjectStore.getPartitionsByFilterInternal):
 * - PartFilterExprUtil.getFilterParser parses it with the ANTLR grammar parser/Filter.g over an
 *   upper-casing character stream (keywords are case-insensitive; the text of identifiers and
 *   literals is kept). The `filter` rule has no EOF: tokens after a complete expression are ignored.
 * - MetaStoreDirectSql.PartitionFilterGenerator turns the tree into SQL over PARTITION_KEY_VALS:
 *   string keys compare PART_KEY_VAL (latin1_bin: bytes, PAD SPACE) with the literal; integral keys
 *   compare `cast(PART_KEY_VAL as decimal(21,0))`, NULL for the default partition name. It refuses
 *   LIKE, other key types and type mismatches, and then...
 * - ExpressionTree.generateJDOFilter builds a JDOQL filter for the whole tree instead (=/<> match
 *   partition names, LIKE becomes DataNucleus' regex-to-SQL-LIKE conversion, integral keys fail).
 *
 * Supported here: string keys with string literals and integral keys (tinyint, smallint, int,
 * bigint) with integer literals, for = <> != < <= > >=, either side; AND, OR, parentheses, BETWEEN,
 * NOT BETWEEN, IN, NOT IN, (STRUCT(..)) IN (CONST STRUCT(..)); LIKE on string keys when every
 * comparison of the filter is a LIKE (the JDO path, see compileLike). Filter.g has no unary NOT.
 */
import { DEFAULT_PARTITION_NAME } from './partition-name';

/** A partition key as in the table's FieldSchema list (name, type). */
export interface PartitionKey {
  readonly name: string;
  readonly type: string;
}

/** 'inexact': this partition's values do not let the router know the metastore's answer. */
export type FilterVerdict = boolean | 'inexact';

export type CompiledFilter =
  | {
      readonly exact: true;
      /** Values read from the partition name (partitionValuesFromName), in key order. */
      matches(values: readonly string[]): FilterVerdict;
      /** Values exactly as stored (Partition.values), which a name cannot always tell. */
      matchesStored(values: readonly string[]): FilterVerdict;
    }
  | { readonly exact: false; readonly reason: string };

export interface FilterOptions {
  /**
   * The metastore's metastore.default.partition.name (hive.exec.default.partition.name).
   * MetaStoreDirectSql compares integral keys as NULL when the stored value is this name.
   */
  readonly defaultPartitionName?: string;
}

/** Compiles `filter` for a table with partition keys `keys`, or says why the router must not. */
export function compilePartitionFilter(
  filter: string,
  keys: readonly PartitionKey[],
  options: FilterOptions = {},
): CompiledFilter {
  try {
    return compile(filter, keys, options.defaultPartitionName ?? DEFAULT_PARTITION_NAME);
  } catch (err) {
    if (err instanceof Refusal) return { exact: false, reason: err.message };
    throw err;
  }
}

/** Why a filter is refused; thrown inside this module only, returned as a value to callers. */
class Refusal extends Error {}

function refuse(reason: string): never {
  throw new Refusal(reason);
}

// ------------------------------------------------------------------------------------ tokens

type Comparison = '=' | '<>' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE';
type Keyword = 'AND' | 'OR' | 'NOT' | 'BETWEEN' | 'IN' | 'CONST' | 'STRUCT';

type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly value: string; readonly at: number }
  | { readonly kind: 'int'; readonly value: bigint; readonly at: number }
  | { readonly kind: 'op'; readonly op: Comparison; readonly at: number }
  | { readonly kind: 'keyword'; readonly word: Keyword; readonly at: number }
  | { readonly kind: '(' | ')' | ','; readonly at: number };

type Literal = Extract<Token, { kind: 'string' | 'int' }>;

/** Filter.g's keywords as the upper-casing stream sees them. KW_DATE ('date', lower case) can
 *  never match an upper-cased character, so `date` is an ordinary identifier. */
const KEYWORDS: ReadonlySet<string> = new Set(['AND', 'OR', 'NOT', 'LIKE', 'BETWEEN', 'IN', 'CONST', 'STRUCT']);
/** Filter.g's WS rule; any other whitespace is a lexer error in the metastore. */
const WHITESPACE = ' \r\t\n';
const JAVA_LONG_MIN = -(2n ** 63n);
const JAVA_LONG_MAX = 2n ** 63n - 1n;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isLetter(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

function isWordChar(c: string | undefined): boolean {
  return isLetter(c) || isDigit(c) || c === '_';
}

/** Characters the router can compare as the metastore does: ASCII without NUL (latin1 columns
 *  hold ASCII as itself; other characters depend on the JDBC connection's conversion). */
function isPlainAscii(text: string): boolean {
  return /^[\x01-\x7f]*$/.test(text);
}

function describeChar(c: string): string {
  return `'${c}' (U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`;
}

/** A lexer for the part of Filter.g this module accepts; anything else is refused. */
function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i]!;
    if (WHITESPACE.includes(c)) {
      i++;
    } else if (c === '\'' || c === '"') {
      i = readString(filter, i, tokens);
    } else if (isDigit(c) || (c === '-' && isDigit(filter[i + 1]))) {
      i = readInteger(filter, i, tokens);
    } else if (isLetter(c)) {
      i = readWord(filter, i, tokens);
    } else {
      i = readPunctuation(filter, i, tokens);
    }
  }
  return tokens;
}

/**
 * Filter.g StringLiteral: quoted by ' or ", a backslash takes the next character whatever it is.
 * The value is the text between the quotes as written (TrimQuotes): backslashes stay in it.
 */
function readString(filter: string, start: number, tokens: Token[]): number {
  const quote = filter[start]!;
  let j = start + 1;
  while (j < filter.length && filter[j] !== quote) j += filter[j] === '\\' ? 2 : 1;
  if (j >= filter.length) refuse(`unterminated string literal at position ${start}`);
  const value = filter.slice(start + 1, j);
  if (!isPlainAscii(value)) {
    refuse(`string literal at position ${start} has a non-ASCII or NUL character: its comparison with the latin1 column is not proven`);
  }
  tokens.push({ kind: 'string', value, at: start });
  return j + 1;
}

/**
 * Filter.g IntegralLiteral ('-'? digits), read by the metastore with Long.parseLong. Digits glued
 * to letters lex as an Identifier in Filter.g (Identifier may start with a digit) and digits
 * followed by '-' may lex as a DateLiteral: both are refused rather than second-guessed.
 */
function readInteger(filter: string, start: number, tokens: Token[]): number {
  let j = start + 1;
  while (isDigit(filter[j])) j++;
  const next = filter[j];
  if (isWordChar(next)) refuse(`'${filter.slice(start, j + 1)}...' at position ${start} starts with digits but lexes as an identifier in Filter.g`);
  if (next === '-') refuse(`'${filter.slice(start, j + 1)}...' at position ${start}: date literals (and integers followed by '-') are not supported`);
  const value = BigInt(filter.slice(start, j));
  if (value < JAVA_LONG_MIN || value > JAVA_LONG_MAX) {
    refuse(`integer literal ${value} is outside Java's long range (the metastore fails with NumberFormatException)`);
  }
  tokens.push({ kind: 'int', value, at: start });
  return j;
}

/** Filter.g Identifier or keyword (keywords win over an identifier of the same text). */
function readWord(filter: string, start: number, tokens: Token[]): number {
  let j = start + 1;
  while (isWordChar(filter[j])) j++;
  const text = filter.slice(start, j);
  const upper = text.toUpperCase();
  if (upper === 'LIKE') tokens.push({ kind: 'op', op: 'LIKE', at: start });
  else if (KEYWORDS.has(upper)) tokens.push({ kind: 'keyword', word: upper as Keyword, at: start });
  else tokens.push({ kind: 'ident', text, at: start });
  return j;
}

/** Parentheses, comma and comparison operators (longest match: <= <> before <). */
function readPunctuation(filter: string, start: number, tokens: Token[]): number {
  const two = filter.slice(start, start + 2);
  if (two === '<=' || two === '<>' || two === '>=' || two === '!=') {
    tokens.push({ kind: 'op', op: two, at: start });
    return start + 2;
  }
  const c = filter[start]!;
  if (c === '=' || c === '<' || c === '>') tokens.push({ kind: 'op', op: c, at: start });
  else if (c === '(' || c === ')' || c === ',') tokens.push({ kind: c, at: start });
  else refuse(`unexpected character ${describeChar(c)} at position ${start} (a lexer error in the metastore)`);
  return start + 1;
}

// ------------------------------------------------------------------------------------ tree

/** ExpressionTree.LeafNode: `key op value`, or `value op key` when reversed. */
interface Leaf {
  readonly kind: 'leaf';
  readonly key: string;
  readonly op: Comparison;
  readonly value: string | bigint;
  readonly reversed: boolean;
}

interface Branch {
  readonly kind: 'and' | 'or';
  readonly lhs: Node;
  readonly rhs: Node;
}

type Node = Leaf | Branch;

function leaf(key: string, op: Comparison, literal: Literal, reversed = false): Leaf {
  return { kind: 'leaf', key, op, value: literal.value, reversed };
}

/** ExpressionTree.addIntermediateNode applied left to right: ((a op b) op c). */
function fold(kind: Branch['kind'], nodes: readonly Node[]): Node {
  return nodes.slice(1).reduce<Node>((lhs, rhs) => ({ kind, lhs, rhs }), nodes[0]!);
}

/**
 * Recursive descent over the tokens, one method per Filter.g rule, building the tree the
 * grammar's actions build. Where ANTLR would recover from an error or stop early, this refuses.
 */
class Parser {
  private pos = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  /** Filter.g `filter: orExpression` (without EOF, so the metastore ignores trailing tokens). */
  parseFilter(): Node {
    if (this.tokens.length === 0) refuse('the filter is only whitespace (a syntax error in the metastore)');
    const node = this.orExpression();
    const rest = this.peek();
    if (rest) {
      refuse(`unexpected ${this.describe(rest)} at position ${rest.at} after a complete expression (the metastore ignores the rest of the filter)`);
    }
    return node;
  }

  private orExpression(): Node {
    const nodes = [this.andExpression()];
    while (this.atKeyword('OR')) {
      this.pos++;
      nodes.push(this.andExpression());
    }
    return fold('or', nodes);
  }

  private andExpression(): Node {
    const nodes = [this.expression()];
    while (this.atKeyword('AND')) {
      this.pos++;
      nodes.push(this.expression());
    }
    return fold('and', nodes);
  }

  /** Filter.g `expression`; the k=3 lookahead decides between a parenthesis and (k) IN. */
  private expression(): Node {
    const [t0, t1, t2] = [this.peek(0), this.peek(1), this.peek(2)];
    if (t0?.kind === '(') {
      if (t1?.kind === 'keyword' && t1.word === 'STRUCT') return this.multiColInExpression();
      if (t1?.kind === 'ident' && t2?.kind === ')') return this.inExpression();
      this.pos++;
      const inner = this.orExpression();
      this.expect(')');
      return inner;
    }
    if (t0?.kind === 'ident') {
      if (t1?.kind === 'keyword' && (t1.word === 'NOT' || t1.word === 'BETWEEN')) return this.betweenExpression();
      return this.binOpExpression();
    }
    if (t0?.kind === 'string' || t0?.kind === 'int') return this.binOpExpression();
    return this.syntaxError(t0, 'a comparison or a parenthesis');
  }

  /** `key op literal` or `literal op key` (isReverseOrder). */
  private binOpExpression(): Leaf {
    if (this.peek()?.kind === 'ident') {
      const key = this.identifier();
      const op = this.operator();
      return leaf(key, op, this.literal());
    }
    const value = this.literal();
    const op = this.operator();
    return leaf(this.identifier(), op, value, true);
  }

  /** `key [NOT] BETWEEN a AND b`: (key >= a AND key <= b), or (key < a OR key > b). */
  private betweenExpression(): Node {
    const key = this.identifier();
    const positive = !this.acceptKeyword('NOT');
    this.expectKeyword('BETWEEN');
    const low = this.literal();
    this.expectKeyword('AND');
    const high = this.literal();
    if (low.kind !== high.kind) this.syntaxError(high, `a ${low.kind} literal like the lower bound`);
    return positive
      ? { kind: 'and', lhs: leaf(key, '>=', low), rhs: leaf(key, '<=', high) }
      : { kind: 'or', lhs: leaf(key, '<', low), rhs: leaf(key, '>', high) };
  }

  /** `(key) [NOT] IN (v1, v2, ...)`: key = v1 OR ..., or key != v1 AND ... (NOTEQUALS2). */
  private inExpression(): Node {
    this.expect('(');
    const key = this.identifier();
    this.expect(')');
    const positive = !this.acceptKeyword('NOT');
    this.expectKeyword('IN');
    const values = this.literalList();
    if (values.some((v) => v.kind !== values[0]!.kind)) this.syntaxError(values[0], 'IN values of one type');
    return fold(positive ? 'or' : 'and', values.map((v) => leaf(key, positive ? '=' : '!=', v)));
  }

  /** `(STRUCT(k1, k2)) [NOT] IN (CONST STRUCT(v1, v2), ...)`. */
  private multiColInExpression(): Node {
    this.expect('(');
    this.expectKeyword('STRUCT');
    this.expect('(');
    const keys = [this.identifier()];
    while (this.accept(',')) keys.push(this.identifier());
    this.expect(')');
    this.expect(')');
    const positive = !this.acceptKeyword('NOT');
    this.expectKeyword('IN');
    this.expect('(');
    const tuples: Node[] = [];
    do {
      this.expectKeyword('CONST');
      this.expectKeyword('STRUCT');
      const at = this.peek()?.at ?? -1;
      const values = this.literalList();
      if (values.length !== keys.length) {
        refuse(`CONST STRUCT at position ${at} has ${values.length} values for ${keys.length} keys (the metastore does not check this)`);
      }
      const leaves = values.map((v, j) => leaf(keys[j]!, positive ? '=' : '!=', v));
      tuples.push(fold(positive ? 'and' : 'or', leaves));
    } while (this.accept(','));
    this.expect(')');
    return fold(positive ? 'or' : 'and', tuples);
  }

  /** `( literal (, literal)* )` */
  private literalList(): Literal[] {
    this.expect('(');
    const values = [this.literal()];
    while (this.accept(',')) values.push(this.literal());
    this.expect(')');
    return values;
  }

  private identifier(): string {
    const t = this.peek();
    if (t?.kind !== 'ident') return this.syntaxError(t, 'a partition key name');
    this.pos++;
    return t.text;
  }

  private operator(): Comparison {
    const t = this.peek();
    if (t?.kind !== 'op') return this.syntaxError(t, 'a comparison operator');
    this.pos++;
    return t.op;
  }

  private literal(): Literal {
    const t = this.peek();
    if (t?.kind !== 'string' && t?.kind !== 'int') return this.syntaxError(t, 'a string or integer literal');
    this.pos++;
    return t;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private atKeyword(word: Keyword): boolean {
    const t = this.peek();
    return t?.kind === 'keyword' && t.word === word;
  }

  private acceptKeyword(word: Keyword): boolean {
    if (!this.atKeyword(word)) return false;
    this.pos++;
    return true;
  }

  private expectKeyword(word: Keyword): void {
    if (!this.acceptKeyword(word)) this.syntaxError(this.peek(), word);
  }

  private accept(kind: '(' | ')' | ','): boolean {
    if (this.peek()?.kind !== kind) return false;
    this.pos++;
    return true;
  }

  private expect(kind: '(' | ')' | ','): void {
    if (!this.accept(kind)) this.syntaxError(this.peek(), `'${kind}'`);
  }

  private describe(t: Token): string {
    switch (t.kind) {
      case 'ident': return `identifier '${t.text}'`;
      case 'string': return `string '${t.value}'`;
      case 'int': return `integer ${t.value}`;
      case 'op': return `operator ${t.op}`;
      case 'keyword': return `keyword ${t.word}`;
      default: return `'${t.kind}'`;
    }
  }

  private syntaxError(t: Token | undefined, expected: string): never {
    const found = t ? `${this.describe(t)} at position ${t.at}` : 'the end of the filter';
    return refuse(`syntax error: expected ${expected}, found ${found}`);
  }
}

// ------------------------------------------------------------------------------------ compiling

type KeyKind = 'string' | 'integral';

/** FilterType.fromType in PartitionFilterGenerator: exact type names, no parameters, no case. */
function keyKind(type: string): KeyKind | null {
  if (type === 'string') return 'string';
  if (type === 'tinyint' || type === 'smallint' || type === 'int' || type === 'bigint') return 'integral';
  return null;
}

/** The value of one key under test: a stored value, or 'inexact' when the router cannot tell. */
type ValueTest = (stored: string) => FilterVerdict;

interface CompiledLeaf {
  readonly kind: 'leaf';
  readonly index: number;
  readonly test: ValueTest;
}

interface CompiledBranch {
  readonly kind: 'and' | 'or';
  readonly lhs: Compiled;
  readonly rhs: Compiled;
}

type Compiled = CompiledLeaf | CompiledBranch;

function compile(filter: string, keys: readonly PartitionKey[], defaultName: string): CompiledFilter {
  if (keys.length === 0) refuse('the table has no partition keys');
  if (!isPlainAscii(defaultName)) refuse(`default partition name '${defaultName}' is not plain ASCII`);
  // ObjectStore.getPartitionsByFilterInternal: an empty filter is the empty tree (every partition).
  if (filter.length === 0) return exactFilter(null, keys.length);
  const tree = new Parser(tokenize(filter)).parseFilter();
  const leaves = leavesOf(tree);
  if (leaves.some((l) => l.op === 'LIKE') && !leaves.every((l) => l.op === 'LIKE')) {
    refuse('LIKE next to other comparisons: the metastore then evaluates the whole filter with JDO (ExpressionTree.generateJDOFilter), where = and <> match partition names; not modelled');
  }
  return exactFilter(compileNode(tree, keys, defaultName), keys.length);
}

function leavesOf(node: Node): Leaf[] {
  return node.kind === 'leaf' ? [node] : [...leavesOf(node.lhs), ...leavesOf(node.rhs)];
}

function compileNode(node: Node, keys: readonly PartitionKey[], defaultName: string): Compiled {
  if (node.kind !== 'leaf') {
    return { kind: node.kind, lhs: compileNode(node.lhs, keys, defaultName), rhs: compileNode(node.rhs, keys, defaultName) };
  }
  const index = keyIndex(node.key, keys);
  const key = keys[index]!;
  if (node.op === 'LIKE') return { kind: 'leaf', index, test: compileLike(node, key) };
  const kind = keyKind(key.type);
  if (kind === null) {
    refuse(`partition key '${key.name}' has type '${key.type}': the router compares only string and integral (tinyint, smallint, int, bigint) keys`);
  }
  if (kind === 'string' && typeof node.value === 'string') {
    return { kind: 'leaf', index, test: stringTest(node.op, node.value, node.reversed) };
  }
  if (kind === 'integral' && typeof node.value === 'bigint') {
    return { kind: 'leaf', index, test: integralTest(node.op, node.value, node.reversed, defaultName) };
  }
  const literal = typeof node.value === 'string' ? 'a string' : 'an integer';
  return refuse(`partition key '${key.name}' of type '${key.type}' compared with ${literal} literal: the metastore refuses mismatched types (PartitionFilterGenerator) and fails on the JDO path`);
}

/**
 * LeafNode.getPartColIndexForFilter: the first key whose name equalsIgnoreCase the identifier.
 * Java's equalsIgnoreCase also matches some non-ASCII letters to ASCII ones ('ı' and 'I'), so a
 * table with non-ASCII key names is refused rather than guessed.
 */
function keyIndex(name: string, keys: readonly PartitionKey[]): number {
  if (keys.some((k) => !isPlainAscii(k.name))) refuse('the table has a partition key name that is not plain ASCII');
  const index = keys.findIndex((k) => k.name.toLowerCase() === name.toLowerCase());
  if (index < 0) refuse(`'${name}' is not a partition key of the table (the metastore fails: "Specified key <${name}> is not a partitioning key for the table")`);
  return index;
}

/** -1, 0 or 1 as `op` needs; `<>` and `!=` are both SQL `<>`. */
function applyComparison(op: Comparison, order: number): boolean {
  switch (op) {
    case '=': return order === 0;
    case '<>':
    case '!=': return order !== 0;
    case '<': return order < 0;
    case '<=': return order <= 0;
    case '>': return order > 0;
    case '>=': return order >= 0;
    case 'LIKE': throw new Error('LIKE is not an ordering comparison');
  }
}

/**
 * MariaDB's comparison under latin1_bin, a PAD SPACE collation: the shorter string compares as if
 * padded with spaces, so 'a' = 'a  ' and 'a\t' < 'a'. Both strings are plain ASCII here.
 */
export function compareLatin1Bin(a: string, b: string): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : 0x20;
    const cb = i < b.length ? b.charCodeAt(i) : 0x20;
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
  return 0;
}

/** PartitionFilterGenerator, string key: `"FILTERi"."PART_KEY_VAL" op ?` (or `? op ...`). */
function stringTest(op: Comparison, literal: string, reversed: boolean): ValueTest {
  return (stored) => {
    if (!isPlainAscii(stored)) return 'inexact';
    const order = reversed ? compareLatin1Bin(literal, stored) : compareLatin1Bin(stored, literal);
    return applyComparison(op, order);
  };
}

/** Canonical integer text (no sign on zero, no leading zeros) that fits decimal(21,0). */
const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]{0,20})$/;

/**
 * What `(case when PART_KEY_VAL <> ?default then cast(PART_KEY_VAL as decimal(21,0)) else null end)`
 * gives: null (SQL NULL) for the default partition name, the number for canonical integers, 0 for
 * '' (MariaDB casts it with a warning, not an error), 'inexact' for anything else ('007', ' 5',
 * '1.5', 'abc' cast too, but that is MariaDB's lenient parsing, not something to rely on).
 */
function storedInteger(stored: string, defaultName: string): bigint | null | 'inexact' {
  if (!isPlainAscii(stored)) return 'inexact';
  if (compareLatin1Bin(stored, defaultName) === 0) return null;
  if (stored === '') return 0n;
  return CANONICAL_INTEGER.test(stored) ? BigInt(stored) : 'inexact';
}

/** PartitionFilterGenerator, integral key: decimal comparison; NULL compares false. */
function integralTest(op: Comparison, literal: bigint, reversed: boolean, defaultName: string): ValueTest {
  return (stored) => {
    const value = storedInteger(stored, defaultName);
    // Filter.g has no NOT, so a NULL leaf can only make its AND/OR false: the same as false.
    if (value === null) return false;
    if (value === 'inexact') return 'inexact';
    const [a, b] = reversed ? [literal, value] : [value, literal];
    return applyComparison(op, a < b ? -1 : a > b ? 1 : 0);
  };
}

// ------------------------------------------------------------------------------------ LIKE

/** One element of a SQL LIKE pattern: a character, `_` (any one) or `%` (any run). */
type LikeElement = string | 'ANY_ONE' | 'ANY_RUN';

/**
 * `key LIKE 'pattern'` on the JDO path. PartitionFilterGenerator refuses LIKE, so the metastore
 * runs ExpressionTree's JDOQL `values.get(i).matches(param)`, which DataNucleus 4.1 turns into
 * `PART_KEY_VAL LIKE '<converted>' ESCAPE '\\'` (StringMatchesMethod, RegularExpressionConverter):
 * `.*` becomes %, `.` becomes _, and a `%` or `_` of the pattern is escaped (literal). Java regex
 * does not apply: `a+` matches only "a+". MariaDB's LIKE compares characters without padding.
 *
 * Refused: LIKE on non-string keys and with the value on the left (the metastore fails), and
 * patterns with a backslash (DataNucleus puts the pattern in the SQL text, where MariaDB would
 * also unescape it), a `(?i)` prefix (lower-cases both sides), or characters outside
 * printable ASCII.
 */
function compileLike(node: Leaf, key: PartitionKey): ValueTest {
  if (keyKind(key.type) !== 'string') {
    refuse(`LIKE on partition key '${key.name}' of type '${key.type}': the metastore's JDO path filters only string keys`);
  }
  if (node.reversed || typeof node.value !== 'string') {
    refuse(`LIKE needs the key on the left and a string pattern on the right (ExpressionTree: "Value should be on the RHS for LIKE operator")`);
  }
  const pattern = node.value;
  if (!/^[\x20-\x7e]*$/.test(pattern) || pattern.includes('\\')) {
    refuse(`LIKE pattern '${pattern}' has a backslash or a character outside printable ASCII: its DataNucleus/MariaDB translation is not modelled`);
  }
  if (pattern.startsWith('(?i)')) refuse(`LIKE pattern '${pattern}' starts with (?i), which DataNucleus turns into a lower-cased comparison; not modelled`);
  const elements = likeElements(pattern);
  return (stored) => (isPlainAscii(stored) ? likeMatches(stored, elements) : 'inexact');
}

/** DataNucleus RegularExpressionConverter for a pattern without backslashes. */
function likeElements(pattern: string): LikeElement[] {
  const elements: LikeElement[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '.' && pattern[i + 1] === '*') {
      elements.push('ANY_RUN');
      i++;
    } else {
      elements.push(pattern[i] === '.' ? 'ANY_ONE' : pattern[i]!);
    }
  }
  return elements;
}

/** SQL LIKE over characters: greedy with backtracking to the last `%`, O(n * m) at worst. */
function likeMatches(value: string, elements: readonly LikeElement[]): boolean {
  let v = 0;
  let e = 0;
  let starE = -1;
  let starV = 0;
  while (v < value.length) {
    const el = elements[e];
    if (el === 'ANY_RUN') {
      starE = e++;
      starV = v;
    } else if (el !== undefined && (el === 'ANY_ONE' || el === value[v])) {
      v++;
      e++;
    } else if (starE >= 0) {
      e = starE + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (elements[e] === 'ANY_RUN') e++;
  return e === elements.length;
}

// ------------------------------------------------------------------------------------ evaluating

/**
 * The values a key may have stored given the name text: a name shows '' as the default partition
 * name, so that text stands for both '' and itself (FileUtils.escapePathName).
 */
function candidatesFromName(value: string): readonly string[] {
  return value === DEFAULT_PARTITION_NAME ? ['', value] : [value];
}

/**
 * Three-valued (Kleene) evaluation with 'inexact' as unknown: an AND with a false side is false
 * and an OR with a true side is true whatever the unknown side is, so the verdict stays exact.
 * A leaf is exact when every candidate value of its key gives the same answer.
 */
function evaluate(node: Compiled, candidates: readonly (readonly string[])[]): FilterVerdict {
  if (node.kind === 'leaf') {
    const verdicts = new Set(candidates[node.index]!.map(node.test));
    return verdicts.size === 1 ? [...verdicts][0]! : 'inexact';
  }
  const decisive = node.kind === 'and' ? false : true;
  const lhs = evaluate(node.lhs, candidates);
  if (lhs === decisive) return decisive;
  const rhs = evaluate(node.rhs, candidates);
  if (rhs === decisive) return decisive;
  return lhs === 'inexact' || rhs === 'inexact' ? 'inexact' : !decisive;
}

function exactFilter(tree: Compiled | null, keyCount: number): CompiledFilter {
  const run = (values: readonly string[], candidates: (v: string) => readonly string[]): FilterVerdict => {
    if (values.length !== keyCount) {
      throw new Error(`partition filter: expected ${keyCount} partition values (one per key), got ${values.length}`);
    }
    return tree === null ? true : evaluate(tree, values.map(candidates));
  };
  return {
    exact: true,
    matches: (values) => run(values, candidatesFromName),
    matchesStored: (values) => run(values, (v) => [v]),
  };
}
