/**
 * One metastore's cached answers: reply bytes as the metastore encoded them, the GTID position each
 * reflects, and the objects each depends on (src/cache/dependencies.ts). Bounded in bytes, least
 * recently used out. The change feed's events remove every entry that depends on what they touch.
 *
 * A fill races the feed: the call that produced an answer was in flight while the feed read events.
 * So each object keeps a mark of its last change (the event id and the position bounding it), and
 * an answer is stored only if, for every object it depends on, that change is reflected in it (its
 * position covers the change's) and came before the call started (the event id is one the feed had
 * already read). An event the feed reads later removes the entry. Together: an entry in the cache
 * reflects every change to its objects the feed has read.
 */
import { covers, merge, type GtidState } from '../consistency/gtid';

export interface CachedReply {
  /** The whole reply message (header and result) as the metastore sent it. */
  readonly bytes: Buffer;
  /** Where the seqid lives in `bytes` (patched on each answer). */
  readonly seqidOffset: number;
  /** The position of the server that answered, read before the call: the reply reflects at least it. */
  readonly position: GtidState | null;
  readonly dependsOn: readonly string[];
}

/** Taken when a call starts; a fill presents it so the cache can tell what changed meanwhile. */
export interface FillTicket {
  /** The last event id the feed had applied. */
  readonly eventId: number;
  /** Changes of the cache's lifetime: a reset starts a new one, and older tickets are refused. */
  readonly epoch: number;
}

export type FillOutcome = 'stored' | 'changed_during_call' | 'older_than_change' | 'reset' | 'too_large';

interface Mark {
  readonly eventId: number;
  readonly upTo: GtidState;
}

interface Entry extends CachedReply {
  readonly size: number;
}

/** Bytes an entry costs beyond its reply: the key, the maps' bookkeeping, the dependency keys. */
const ENTRY_OVERHEAD = 200;
/** Objects with a change mark kept; beyond it the marks fold into one floor (rare: distinct objects changed). */
const MAX_MARKS = 100_000;

export class MetadataCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byObject = new Map<string, Set<string>>();
  private readonly marks = new Map<string, Mark>();
  /** Folded marks: a fill must cover this and have started after its event id. */
  private floor: Mark | null = null;
  private bytesUsed = 0;
  private lastEventId = 0;
  private epochValue = 0;

  constructor(private maxBytes: number) {}

  get bytes(): number {
    return this.bytesUsed;
  }

  get size(): number {
    return this.entries.size;
  }

  get epoch(): number {
    return this.epochValue;
  }

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evictBeyond(maxBytes);
  }

  ticket(): FillTicket {
    return { eventId: this.lastEventId, epoch: this.epochValue };
  }

  /** The entry for `key`, made the most recently used. */
  get(key: string): CachedReply | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** Stores an answer if it reflects every change to its objects the feed has read (see the file's comment). */
  fill(key: string, reply: CachedReply, ticket: FillTicket): FillOutcome {
    if (ticket.epoch !== this.epochValue) return 'reset';
    const size = reply.bytes.length + key.length + ENTRY_OVERHEAD + reply.dependsOn.reduce((n, d) => n + d.length + 16, 0);
    if (size > this.maxBytes / 4) return 'too_large';
    if (this.floor !== null && (ticket.eventId < this.floor.eventId || !reflects(reply.position, this.floor.upTo))) return 'older_than_change';
    for (const object of reply.dependsOn) {
      const mark = this.marks.get(object);
      if (mark === undefined) continue;
      if (mark.eventId > ticket.eventId) return 'changed_during_call';
      if (!reflects(reply.position, mark.upTo)) return 'older_than_change';
    }
    this.remove(key);
    const entry: Entry = { ...reply, size };
    this.entries.set(key, entry);
    this.bytesUsed += size;
    for (const object of reply.dependsOn) {
      let keys = this.byObject.get(object);
      if (keys === undefined) {
        keys = new Set();
        this.byObject.set(object, keys);
      }
      keys.add(key);
    }
    this.evictBeyond(this.maxBytes);
    return 'stored';
  }

  /**
   * The feed read a change (event `eventId`, committed within `upTo`) to these objects: their
   * entries go, and the mark refuses answers that do not reflect it. Returns the entries removed.
   */
  changed(objects: readonly string[], eventId: number, upTo: GtidState): number {
    let removed = 0;
    for (const object of objects) {
      const keys = this.byObject.get(object);
      if (keys !== undefined) {
        for (const key of [...keys]) removed += this.remove(key) ? 1 : 0;
      }
      this.marks.delete(object);
      this.marks.set(object, { eventId, upTo });
    }
    if (eventId > this.lastEventId) this.lastEventId = eventId;
    if (this.marks.size > MAX_MARKS) this.foldMarks();
    return removed;
  }

  /** The feed read up to `eventId` (with or without changes of interest). */
  advance(eventId: number): void {
    if (eventId > this.lastEventId) this.lastEventId = eventId;
  }

  /** Forget everything (the feed may have missed events); tickets of calls in flight are refused. */
  reset(eventId: number): void {
    this.entries.clear();
    this.byObject.clear();
    this.marks.clear();
    this.floor = null;
    this.bytesUsed = 0;
    this.lastEventId = eventId;
    this.epochValue += 1;
  }

  private remove(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.bytesUsed -= entry.size;
    for (const object of entry.dependsOn) {
      const keys = this.byObject.get(object);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byObject.delete(object);
    }
    return true;
  }

  private evictBeyond(limit: number): void {
    // Map iteration order is insertion order and get() re-inserts: the first key is the least recently used.
    while (this.bytesUsed > limit) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
  }

  /** Many objects changed: one floor stands for all their marks (stricter, never looser). */
  private foldMarks(): void {
    let floor = this.floor;
    for (const mark of this.marks.values()) {
      floor = floor === null ? mark : { eventId: Math.max(floor.eventId, mark.eventId), upTo: merge(floor.upTo, mark.upTo) };
    }
    this.floor = floor;
    this.marks.clear();
  }
}

/** An answer read at `position` reflects a change committed within `upTo` (no position: unknown, so no). */
function reflects(position: GtidState | null, upTo: GtidState): boolean {
  if (position === null) return false;
  return position.flavor === upTo.flavor && covers(position, upTo);
}
