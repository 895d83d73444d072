/**
 * The cache stage's rule, with a stand-in feed (no MySQL): when an answer may come from memory,
 * and what a miss may keep.
 */
import { describe, expect, it } from 'vitest';
import { CacheStage, type CacheLookup, type FeedHandle } from '../../src/cache/cache-stage';
import type { FeedBatch, FeedEvent, FeedListener, FeedStatus } from '../../src/cache/feed-types';
import { configSchema } from '../../src/config/schema';
import { RouterMetrics } from '../../src/admin/metrics';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType, parseMessageHeader } from '../../src/thrift/protocol';
import type { RawMessage } from '../../src/thrift/message-reader';
import { describeCall } from '../../src/hms/call-info';
import { parseGtid, type GtidState } from '../../src/consistency/gtid';
import type { ClientSession } from '../../src/proxy/client-session';

const at = (seq: number): GtidState => parseGtid('mariadb', `0-1-${seq}`);

function message(bytes: Buffer): RawMessage {
  return { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
}

function getTable(db: string, table: string, seqid = 7): RawMessage {
  return message(new BinaryWriter().messageBegin('get_table', MessageType.CALL, seqid)
    .fieldBegin(TType.STRING, 1).string(db).fieldBegin(TType.STRING, 2).string(table).fieldStop().finish());
}

/** A get_table reply whose Table carries `marker` as its owner. */
function tableReply(marker: string): RawMessage {
  return message(new BinaryWriter().messageBegin('get_table', MessageType.REPLY, 99)
    .fieldBegin(TType.STRUCT, 0).fieldBegin(TType.STRING, 1).string('t').fieldBegin(TType.STRING, 3).string(marker).fieldStop()
    .fieldStop().finish());
}

function noSuchObjectReply(): RawMessage {
  return message(new BinaryWriter().messageBegin('get_table', MessageType.REPLY, 99)
    .fieldBegin(TType.STRUCT, 2).fieldBegin(TType.STRING, 1).string('no such table').fieldStop().fieldStop().finish());
}

function pbnCall(names: string[], seqid = 3): RawMessage {
  const w = new BinaryWriter().messageBegin('get_partitions_by_names', MessageType.CALL, seqid)
    .fieldBegin(TType.STRING, 1).string('db').fieldBegin(TType.STRING, 2).string('t')
    .fieldBegin(TType.LIST, 3).listBegin(TType.STRING, names.length);
  for (const n of names) w.string(n);
  return message(w.fieldStop().finish());
}

function partition(value: string, marker: string): Buffer {
  return new BinaryWriter().fieldBegin(TType.LIST, 1).listBegin(TType.STRING, 1).string(value)
    .fieldBegin(TType.STRING, 2).string('db').fieldBegin(TType.STRING, 3).string('t')
    .fieldBegin(TType.STRING, 10).string(marker).fieldStop().finish();
}

function pbnReply(parts: Buffer[]): RawMessage {
  const w = new BinaryWriter().messageBegin('get_partitions_by_names', MessageType.REPLY, 99)
    .fieldBegin(TType.LIST, 0).listBegin(TType.STRUCT, parts.length);
  for (const p of parts) w.raw(p);
  return message(w.fieldStop().finish());
}

class StandInFeed implements FeedHandle {
  constructor(readonly listener: FeedListener) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): FeedStatus {
    return { mysql: 'stand-in', database: 'db', state: 'ok', lastEventId: null, appliedUpTo: null, appliedAt: null, error: null };
  }
}

function setup(cache: Record<string, unknown> = {}) {
  const config = configSchema.parse({
    metastores: { rw: { primary: { endpoints: ['127.0.0.1:1'], mysql: { user: 'u' } }, cache: { enabled: true, maxLagMs: 1000, feed: { database: 'hms' }, ...cache } } },
    defaultMetastore: 'rw',
  });
  const metrics = new RouterMetrics();
  let feed: StandInFeed | null = null;
  const stage = new CacheStage(config.metastores, metrics, (_m, _f, _my, listener) => (feed = new StandInFeed(listener)));
  let eventId = 0;
  const applied = (position: number, events: Array<Omit<FeedEvent, 'eventId'>> = [], snapshotAt = Date.now()) => {
    const batch: FeedBatch = { events: events.map((e) => ({ ...e, eventId: ++eventId })), changesUpTo: at(position), appliedUpTo: at(position), snapshotAt };
    feed!.listener.onBatch(batch);
  };
  feed!.listener.onReset('started', '');
  return { stage, metrics, feed: feed!, applied };
}

function session(overrides: Partial<ClientSession> = {}): ClientSession {
  return { id: 1, remoteAddress: '10.0.0.1:5000', identity: { user: 'alice', groups: [] }, principal: null, dedicated: new Map(), holders: new Map(), ...overrides };
}

async function metric(metrics: RouterMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (m.name !== name) continue;
    for (const v of m.values) if (Object.entries(labels).every(([k, w]) => String(v.labels[k]) === w)) sum += v.value;
  }
  return sum;
}

function lookup(stage: CacheStage, call: RawMessage, s: ClientSession, token: GtidState | null | 'unavailable' = null): CacheLookup {
  return stage.lookup('rw', call, describeCall(call), s, token);
}

function hitBytes(l: CacheLookup): Buffer {
  if (l.kind !== 'hit') throw new Error(`expected a hit, got ${l.kind}`);
  return l.reply;
}

describe('cache stage', () => {
  it('answers a repeated read with the stored reply bytes under the new seqid', () => {
    const { stage, applied } = setup();
    applied(10);
    const first = lookup(stage, getTable('db', 't', 1), session());
    expect(first.kind).toBe('miss');
    const reply = tableReply('v1');
    if (first.kind === 'miss') first.remember(reply, { role: 'primary' });
    const bytes = hitBytes(lookup(stage, getTable('db', 't', 42), session()));
    expect(parseMessageHeader(bytes, 0, bytes.length)!.seqid).toBe(42);
    const expected = Buffer.from(reply.bytes);
    expected.writeInt32BE(42, reply.header.seqidOffset);
    expect(bytes.equals(expected)).toBe(true);
  });

  it('forgets a table when the feed reads a change to it, and not other tables', () => {
    const { stage, applied } = setup();
    applied(10);
    for (const t of ['a', 'b']) {
      const l = lookup(stage, getTable('db', t), session());
      if (l.kind === 'miss') l.remember(tableReply(t), { role: 'primary' });
    }
    applied(11, [{ type: 'ALTER_TABLE', catalog: 'hive', db: 'db', table: 'a', formerName: { db: 'db', table: 'a' } }]);
    expect(lookup(stage, getTable('db', 'a'), session()).kind).toBe('miss');
    expect(lookup(stage, getTable('db', 'b'), session()).kind).toBe('hit');
  });

  it('never answers while the feed has not read up to the token, is failing, behind, or older than maxLagMs', async () => {
    const { stage, metrics, feed, applied } = setup({ maxLagMs: 200 });
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss'); // before any batch: feed_starting
    applied(10);
    const l = lookup(stage, getTable('db', 't'), session());
    if (l.kind === 'miss') l.remember(tableReply('v1'), { role: 'primary' });
    expect(lookup(stage, getTable('db', 't'), session(), at(10)).kind).toBe('hit');
    expect(lookup(stage, getTable('db', 't'), session(), at(11)).kind).toBe('miss');
    feed.listener.onError(new Error('MySQL gone'));
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss');
    applied(10, [], Date.now() - 500);
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss');
    feed.listener.onBatch({ events: [], changesUpTo: at(12), appliedUpTo: null, snapshotAt: Date.now() });
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss');
    applied(12);
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('hit');
    for (const reason of ['feed_starting', 'token_ahead_of_feed', 'feed_failing', 'feed_lagging', 'feed_behind']) {
      expect(await metric(metrics, 'hms_router_cache_bypasses_total', { reason }), reason).toBe(1);
    }
  });

  it('answers a token the feed or the entry covers, and neither: no (a replica read at another position)', async () => {
    const { stage, metrics, applied } = setup();
    applied(20);
    const older = lookup(stage, getTable('db', 'old'), session());
    if (older.kind === 'miss') older.remember(tableReply('v1'), { role: 'replica', position: at(15) });
    // Read at 15, unchanged up to the feed's 20: it answers for 16.
    expect(lookup(stage, getTable('db', 'old'), session(), at(16)).kind).toBe('hit');
    expect(lookup(stage, getTable('db', 'old'), session(), at(21)).kind).toBe('miss');
    const newer = lookup(stage, getTable('db', 'new'), session());
    if (newer.kind === 'miss') newer.remember(tableReply('v1'), { role: 'replica', position: at(25) });
    // A replica ahead of the feed: its answer reflects 25, enough for 22 before the feed gets there.
    expect(lookup(stage, getTable('db', 'new'), session(), at(22)).kind).toBe('hit');
    expect(lookup(stage, getTable('db', 'new'), session(), at(26)).kind).toBe('miss');
    expect(await metric(metrics, 'hms_router_cache_bypasses_total', { reason: 'token_ahead_of_feed' })).toBe(2);
  });

  it('a primary answer counts as of the feed\'s position, not the token (a MariaDB token may lead visibility)', () => {
    const { stage, applied } = setup();
    applied(20);
    const l = lookup(stage, getTable('db', 't'), session(), at(20));
    if (l.kind === 'miss') l.remember(tableReply('v1'), { role: 'primary' });
    expect(lookup(stage, getTable('db', 't'), session(), at(20)).kind).toBe('hit');
    expect(lookup(stage, getTable('db', 't'), session(), at(21)).kind).toBe('miss');
  });

  it('keeps no exception and no answer the feed saw change during the call', () => {
    const { stage, applied } = setup();
    applied(10);
    const l = lookup(stage, getTable('db', 'gone'), session());
    if (l.kind === 'miss') l.remember(noSuchObjectReply(), { role: 'primary' });
    expect(lookup(stage, getTable('db', 'gone'), session()).kind).toBe('miss');
    const racing = lookup(stage, getTable('db', 't'), session());
    applied(11, [{ type: 'ALTER_TABLE', catalog: 'hive', db: 'db', table: 't' }]);
    if (racing.kind === 'miss') racing.remember(tableReply('old'), { role: 'primary' });
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss');
  });

  it('keys answers by caller unless the metastore says they do not depend on it', () => {
    const { stage, applied } = setup();
    applied(10);
    const l = lookup(stage, getTable('db', 't'), session());
    if (l.kind === 'miss') l.remember(tableReply('alice'), { role: 'primary' });
    expect(lookup(stage, getTable('db', 't'), session({ identity: { user: 'bob', groups: [] } })).kind).toBe('miss');
    const shared = setup({ callerIndependent: true });
    shared.applied(10);
    const m = lookup(shared.stage, getTable('db', 't'), session());
    if (m.kind === 'miss') m.remember(tableReply('alice'), { role: 'primary' });
    expect(lookup(shared.stage, getTable('db', 't'), session({ identity: { user: 'bob', groups: [] } })).kind).toBe('hit');
  });

  it('skips the cache for a client that wrote until the feed has read from a snapshot begun after the write', () => {
    const { stage, applied } = setup();
    applied(10);
    const l = lookup(stage, getTable('db', 't'), session());
    if (l.kind === 'miss') l.remember(tableReply('v1'), { role: 'primary' });
    stage.afterWrite('rw', session());
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('miss');
    // The same client on its next connection (another port) too: engines open one per call.
    expect(lookup(stage, getTable('db', 't'), session({ id: 2, remoteAddress: '10.0.0.1:6000' })).kind).toBe('miss');
    // Another client is not held back.
    expect(lookup(stage, getTable('db', 't'), session({ remoteAddress: '10.0.0.2:5000' })).kind).toBe('hit');
    applied(11, [], Date.now() + 1);
    expect(lookup(stage, getTable('db', 't'), session()).kind).toBe('hit');
    // Where a token is tracked, it carries the write: no hold-back by address.
    stage.afterWrite('rw', session());
    expect(lookup(stage, getTable('db', 't'), session(), at(11)).kind).toBe('hit');
  });

  it('a feed reset (log truncated, rewound, another server after a failover) forgets every entry and refuses fills in flight', () => {
    const { stage, feed, applied } = setup();
    applied(10);
    const l = lookup(stage, getTable('db', 't'), session());
    if (l.kind === 'miss') l.remember(tableReply('v1'), { role: 'primary' });
    const inFlight = lookup(stage, getTable('db', 'u'), session());
    for (const reason of ['gap', 'rewound', 'server_changed'] as const) {
      feed.listener.onReset(reason, 'test');
      applied(11);
      expect(lookup(stage, getTable('db', 't'), session()).kind, reason).toBe('miss');
      const again = lookup(stage, getTable('db', 't'), session());
      if (again.kind === 'miss') again.remember(tableReply('v1'), { role: 'primary' });
    }
    if (inFlight.kind === 'miss') inFlight.remember(tableReply('u'), { role: 'primary' });
    expect(lookup(stage, getTable('db', 'u'), session()).kind).toBe('miss');
    expect(stage.state()[0]!.entries).toBe(1);
  });

  it('bypasses a pinned connection and an unavailable token', () => {
    const { stage, applied } = setup();
    applied(10);
    expect(lookup(stage, getTable('db', 't'), session(), 'unavailable').kind).toBe('miss');
    expect(lookup(stage, getTable('db', 't'), session({ dedicated: new Map([['x', {} as never]]) })).kind).toBe('miss');
  });

  it('answers get_partitions_by_names from per-partition entries, in name order, once all names are known', () => {
    const { stage, applied } = setup();
    applied(10);
    const a = partition('1', 'pa'); const b = partition('2', 'pb'); const c = partition('3', 'pc');
    const first = lookup(stage, pbnCall(['p=2', 'p=1']), session());
    if (first.kind === 'miss') first.remember(pbnReply([a, b]), { role: 'primary' });
    // p=4 does not exist: the metastore leaves it out, and so does the cache.
    const second = lookup(stage, pbnCall(['p=3', 'p=4']), session());
    expect(second.kind).toBe('miss');
    if (second.kind === 'miss') second.remember(pbnReply([c]), { role: 'primary' });
    const bytes = hitBytes(lookup(stage, pbnCall(['p=4', 'p=3', 'p=1', 'p=1'], 11), session()));
    const expected = pbnReply([a, c]).bytes;
    expected.writeInt32BE(11, parseMessageHeader(expected, 0, expected.length)!.seqidOffset);
    expect(bytes.equals(expected)).toBe(true);
    applied(11, [{ type: 'ALTER_PARTITION', catalog: 'hive', db: 'db', table: 't' }]);
    expect(lookup(stage, pbnCall(['p=1']), session()).kind).toBe('miss');
  });

  it('does not cut a reply it cannot match to the names asked', () => {
    const { stage, applied } = setup();
    applied(10);
    const l = lookup(stage, pbnCall(['p=1']), session());
    if (l.kind === 'miss') l.remember(pbnReply([partition('9', 'stray')]), { role: 'primary' });
    expect(lookup(stage, pbnCall(['p=1']), session()).kind).toBe('miss');
  });

  it('reloaded settings: disabled stops answering, a smaller maxBytes evicts', () => {
    const { stage, applied } = setup();
    applied(10);
    const l = lookup(stage, getTable('db', 't'), session());
    if (l.kind === 'miss') l.remember(tableReply('v'.repeat(2000)), { role: 'primary' });
    expect(stage.state()[0]!.entries).toBe(1);
    const policy = stage.policies.get('rw')!;
    stage.setPolicies(new Map([['rw', { ...policy, enabled: false }]]));
    expect(stage.handles('rw', describeCall(getTable('db', 't')))).toBe(false);
    stage.setPolicies(new Map([['rw', { ...policy, maxBytes: 1024 }]]));
    expect(stage.state()[0]!.entries).toBe(0);
  });
});
