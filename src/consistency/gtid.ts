/**
 * GTID algebra for the two replication flavors the router understands. Pure: no I/O, no
 * dependencies. A session's write leaves a GTID token; a read may go to a replica only when the
 * replica's executed state covers that token.
 *
 * - MySQL: GTID sets as in @@GLOBAL.gtid_executed, e.g.
 *   `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9:11,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1`,
 *   including MySQL 8.4 tagged GTIDs (`uuid:1-5:tag_a:1-3`). A set is a map from transaction
 *   source (uuid, or uuid:tag) to sorted, merged closed intervals of sequence numbers.
 * - MariaDB: GTID positions as in @@gtid_binlog_pos / @@gtid_slave_pos / @@gtid_current_pos,
 *   e.g. `0-1-100,1-2-57` (domain-server_id-seq_no). One entry per domain.
 *
 * Sequence numbers are bigint: MySQL allows up to 2^63-1 and MariaDB up to 2^64-1, beyond the
 * exact range of number. States are only ever built by parseGtid and merge, which normalize them;
 * covers relies on that normal form.
 */

export type GtidFlavor = 'mysql' | 'mariadb';

/** A closed interval [start, end] of sequence numbers, 1 <= start <= end <= 2^63-1. */
export interface GtidInterval {
  readonly start: bigint;
  readonly end: bigint;
}

/** An executed MySQL GTID set. */
export interface MysqlGtidSet {
  readonly flavor: 'mysql';
  /**
   * Key: lowercase uuid for untagged GTIDs, `uuid:tag` (tag lowercase) for tagged ones.
   * Value: non-empty, sorted by start, with no two intervals overlapping or adjacent.
   * Keys are inserted in sorted order (untagged before the uuid's tags); no key has an empty list.
   */
  readonly sets: ReadonlyMap<string, readonly GtidInterval[]>;
}

export interface MariadbGtidEntry {
  readonly domain: number;
  readonly serverId: number;
  readonly seqNo: bigint;
}

/** An executed MariaDB GTID position: the last seq_no per replication domain. */
export interface MariadbGtidPosition {
  readonly flavor: 'mariadb';
  /** Key: domain id. Inserted in ascending domain order. */
  readonly domains: ReadonlyMap<number, MariadbGtidEntry>;
}

/** An executed-GTID state of one server, immutable. Build it with parseGtid or merge only. */
export type GtidState = MysqlGtidSet | MariadbGtidPosition;

export class GtidParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GtidParseError';
  }
}

const MYSQL_MAX_GNO = (1n << 63n) - 1n;
const MARIADB_MAX_SEQ = (1n << 64n) - 1n;
const UINT32_MAX = (1n << 32n) - 1n;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAG_RE = /^[a-z_][a-z0-9_]{0,31}$/i;
const INTERVAL_RE = /^(\d+)(?:\s*-\s*(\d+))?$/;
const MARIADB_ENTRY_RE = /^(\d+)-(\d+)-(\d+)$/;
/** Length of a dashed UUID: a MySQL key is the uuid, or the uuid, ':' and a tag. */
const UUID_LEN = 36;

// ---------------------------------------------------------------------------------------------
// Parsing

export function parseGtid(flavor: GtidFlavor, text: string): GtidState {
  if (flavor === 'mysql') return parseMysql(text);
  if (flavor === 'mariadb') return parseMariadb(text);
  throw new Error(`parseGtid: unknown GTID flavor ${JSON.stringify(flavor)} (expected 'mysql' or 'mariadb')`);
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function parseMysql(text: string): MysqlGtidSet {
  const acc = new Map<string, GtidInterval[]>();
  // MySQL itself accepts empty elements between commas (and the empty string as the empty set).
  for (const rawElement of text.split(',')) {
    const element = rawElement.trim();
    if (element === '') continue;
    const where = `in MySQL GTID set element ${quote(element)}`;
    const parts = element.split(':').map((p) => p.trim());
    const uuid = parts[0] ?? '';
    if (!UUID_RE.test(uuid)) {
      throw new GtidParseError(
        `bad UUID ${quote(uuid)} ${where}: expected 8-4-4-4-12 hexadecimal digits like 3e11fa47-71ca-11e1-9e33-c80aa9429562`,
      );
    }
    if (parts.length === 1) {
      throw new GtidParseError(`UUID ${quote(uuid)} has no intervals ${where}: expected uuid:interval[:interval...]`);
    }
    const lowerUuid = uuid.toLowerCase();
    let key = lowerUuid;
    let tag: string | undefined;
    let intervalsForTag = 0;
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (part === '') {
        throw new GtidParseError(`empty interval ${where}: two ':' in a row or a trailing ':'`);
      }
      if (/^\d/.test(part)) {
        const interval = parseMysqlInterval(part, where);
        let list = acc.get(key);
        if (list === undefined) {
          list = [];
          acc.set(key, list);
        }
        list.push(interval);
        intervalsForTag++;
      } else if (/^[a-z_]/i.test(part)) {
        if (!TAG_RE.test(part)) {
          throw new GtidParseError(
            `bad tag ${quote(part)} ${where}: a tag is 1 to 32 letters, digits or underscores, starting with a letter or underscore`,
          );
        }
        if (tag !== undefined && intervalsForTag === 0) {
          throw new GtidParseError(`tag ${quote(tag)} has no intervals ${where}`);
        }
        tag = part.toLowerCase();
        key = `${lowerUuid}:${tag}`;
        intervalsForTag = 0;
      } else if (part.startsWith('-')) {
        throw new GtidParseError(`negative sequence number ${quote(part)} ${where}: sequence numbers start at 1`);
      } else {
        throw new GtidParseError(`${quote(part)} is neither an interval (n or a-b) nor a tag ${where}`);
      }
    }
    if (tag !== undefined && intervalsForTag === 0) {
      throw new GtidParseError(`tag ${quote(tag)} has no intervals ${where}`);
    }
  }
  return buildMysql(acc);
}

function parseMysqlInterval(part: string, where: string): GtidInterval {
  const m = INTERVAL_RE.exec(part);
  if (m === null) {
    if (/-\s*-/.test(part)) {
      throw new GtidParseError(`negative sequence number in interval ${quote(part)} ${where}: sequence numbers start at 1`);
    }
    throw new GtidParseError(`bad interval ${quote(part)} ${where}: expected a number n or a range a-b`);
  }
  const startText = m[1] ?? '';
  const endText = m[2] ?? startText;
  const start = BigInt(startText);
  const end = BigInt(endText);
  for (const n of [start, end]) {
    if (n === 0n) {
      throw new GtidParseError(`sequence number 0 in interval ${quote(part)} ${where}: sequence numbers start at 1`);
    }
    if (n > MYSQL_MAX_GNO) {
      throw new GtidParseError(`sequence number ${n} in interval ${quote(part)} ${where} exceeds the maximum 2^63-1`);
    }
  }
  if (start > end) {
    throw new GtidParseError(`interval ${quote(part)} ${where} has start ${start} greater than end ${end}`);
  }
  return { start, end };
}

function parseMariadb(text: string): MariadbGtidPosition {
  const acc = new Map<number, MariadbGtidEntry>();
  if (text.trim() === '') return buildMariadb(acc);
  for (const rawEntry of text.split(',')) {
    const entry = rawEntry.trim();
    if (entry === '') {
      throw new GtidParseError(
        `empty entry in MariaDB GTID position ${quote(text.length > 200 ? `${text.slice(0, 200)}...` : text)}: two ',' in a row or a leading or trailing ','`,
      );
    }
    const where = `in MariaDB GTID position entry ${quote(entry)}`;
    const m = MARIADB_ENTRY_RE.exec(entry);
    if (m === null) {
      if (entry.startsWith('-') || entry.includes('--')) {
        throw new GtidParseError(`negative number ${where}: domain, server_id and seq_no are unsigned`);
      }
      throw new GtidParseError(`bad entry ${where}: expected domain-server_id-seq_no, three unsigned decimal numbers`);
    }
    const domain = BigInt(m[1] ?? '');
    const serverId = BigInt(m[2] ?? '');
    const seqNo = BigInt(m[3] ?? '');
    if (domain > UINT32_MAX) throw new GtidParseError(`domain ${domain} ${where} exceeds the maximum 2^32-1`);
    if (serverId > UINT32_MAX) throw new GtidParseError(`server_id ${serverId} ${where} exceeds the maximum 2^32-1`);
    if (seqNo > MARIADB_MAX_SEQ) throw new GtidParseError(`seq_no ${seqNo} ${where} exceeds the maximum 2^64-1`);
    addMariadbEntry(acc, { domain: Number(domain), serverId: Number(serverId), seqNo });
  }
  return buildMariadb(acc);
}

/** Keeps the entry with the higher seq_no; on a tie, the higher server_id (so merge is commutative). */
function addMariadbEntry(acc: Map<number, MariadbGtidEntry>, e: MariadbGtidEntry): void {
  const old = acc.get(e.domain);
  if (old === undefined || e.seqNo > old.seqNo || (e.seqNo === old.seqNo && e.serverId > old.serverId)) {
    acc.set(e.domain, e);
  }
}

// ---------------------------------------------------------------------------------------------
// Normal forms

function normalizeIntervals(list: readonly GtidInterval[]): readonly GtidInterval[] {
  const sorted = [...list].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const out: GtidInterval[] = [];
  let cur: { start: bigint; end: bigint } | undefined;
  for (const iv of sorted) {
    if (cur !== undefined && iv.start <= cur.end + 1n) {
      if (iv.end > cur.end) cur.end = iv.end;
    } else {
      if (cur !== undefined) out.push(Object.freeze(cur));
      cur = { start: iv.start, end: iv.end };
    }
  }
  if (cur !== undefined) out.push(Object.freeze(cur));
  return Object.freeze(out);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function buildMysql(acc: ReadonlyMap<string, readonly GtidInterval[]>): MysqlGtidSet {
  const sets = new Map<string, readonly GtidInterval[]>();
  // Keys are `uuid` or `uuid:tag` with a fixed-length uuid, so plain string order sorts by uuid,
  // then puts the untagged set first, then the tags in order: the grouping formatGtid needs.
  for (const key of [...acc.keys()].sort(compareStrings)) {
    const list = acc.get(key);
    if (list !== undefined && list.length > 0) sets.set(key, normalizeIntervals(list));
  }
  return Object.freeze({ flavor: 'mysql', sets });
}

function buildMariadb(acc: ReadonlyMap<number, MariadbGtidEntry>): MariadbGtidPosition {
  const domains = new Map<number, MariadbGtidEntry>();
  for (const d of [...acc.keys()].sort((x, y) => x - y)) {
    const e = acc.get(d);
    if (e !== undefined) domains.set(d, Object.freeze({ domain: e.domain, serverId: e.serverId, seqNo: e.seqNo }));
  }
  return Object.freeze({ flavor: 'mariadb', domains });
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * Canonical text, parseable back by parseGtid, and accepted by WAIT_FOR_EXECUTED_GTID_SET (MySQL)
 * and MASTER_GTID_WAIT (MariaDB).
 * MySQL: uuids lowercase and sorted, one element per uuid: `uuid:1-5:7:tag_a:1-3`, joined by ','.
 * MariaDB: `domain-server_id-seq_no` sorted by domain, joined by ','.
 */
export function formatGtid(state: GtidState): string {
  if (state.flavor === 'mariadb') {
    return [...state.domains.values()].map((e) => `${e.domain}-${e.serverId}-${e.seqNo}`).join(',');
  }
  const elements: string[] = [];
  let currentUuid: string | undefined;
  let current = '';
  for (const [key, list] of state.sets) {
    const uuid = key.slice(0, UUID_LEN);
    const tag = key.slice(UUID_LEN + 1);
    if (uuid !== currentUuid) {
      if (currentUuid !== undefined) elements.push(current);
      currentUuid = uuid;
      current = uuid;
    }
    if (tag !== '') current += `:${tag}`;
    for (const iv of list) current += iv.start === iv.end ? `:${iv.start}` : `:${iv.start}-${iv.end}`;
  }
  if (currentUuid !== undefined) elements.push(current);
  return elements.join(',');
}

// ---------------------------------------------------------------------------------------------
// Algebra

function checkSameFlavor(op: string, a: GtidState, b: GtidState): void {
  if (a.flavor !== b.flavor) {
    throw new Error(`${op}: cannot combine a ${a.flavor} GTID state with a ${b.flavor} one (programming error)`);
  }
}

/**
 * True when `replica` has executed every transaction in `token`.
 * MySQL: token is a subset of replica. MariaDB: for each domain of token, the replica's seq_no in
 * that domain is >= token's (server_id does not matter; a domain the replica lacks counts as
 * seq_no 0, so only a token entry with seq_no 0 is covered by it).
 */
export function covers(replica: GtidState, token: GtidState): boolean {
  checkSameFlavor('covers', replica, token);
  if (replica.flavor === 'mariadb' && token.flavor === 'mariadb') {
    for (const [domain, t] of token.domains) {
      const r = replica.domains.get(domain);
      if ((r?.seqNo ?? 0n) < t.seqNo) return false;
    }
    return true;
  }
  if (replica.flavor === 'mysql' && token.flavor === 'mysql') {
    for (const [key, tokenList] of token.sets) {
      const replicaList = replica.sets.get(key);
      if (replicaList === undefined) return false;
      // Both lists are sorted and maximal, so each token interval must lie inside one replica interval.
      let j = 0;
      for (const t of tokenList) {
        while (j < replicaList.length && (replicaList[j]?.end ?? 0n) < t.start) j++;
        const r = replicaList[j];
        if (r === undefined || r.start > t.start || r.end < t.end) return false;
      }
    }
    return true;
  }
  /* c8 ignore next */
  throw new Error('covers: unreachable');
}

/**
 * The least state covering both: MySQL set union; MariaDB per-domain max seq_no (keeping that
 * entry's server_id; on equal seq_no the higher server_id, so that merge is commutative).
 */
export function merge(a: GtidState, b: GtidState): GtidState {
  checkSameFlavor('merge', a, b);
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') {
    const acc = new Map<number, MariadbGtidEntry>(a.domains);
    for (const e of b.domains.values()) addMariadbEntry(acc, e);
    return buildMariadb(acc);
  }
  if (a.flavor === 'mysql' && b.flavor === 'mysql') {
    const acc = new Map<string, GtidInterval[]>();
    for (const s of [a.sets, b.sets]) {
      for (const [key, list] of s) {
        const prev = acc.get(key);
        if (prev === undefined) acc.set(key, [...list]);
        else prev.push(...list);
      }
    }
    return buildMysql(acc);
  }
  /* c8 ignore next */
  throw new Error('merge: unreachable');
}

/** True when the state holds no executed transaction (for MariaDB: no domain with seq_no > 0). */
export function isEmpty(state: GtidState): boolean {
  if (state.flavor === 'mysql') return state.sets.size === 0;
  for (const e of state.domains.values()) if (e.seqNo > 0n) return false;
  return true;
}
