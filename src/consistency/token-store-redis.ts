/**
 * client-mode tokens in Redis or Valkey, shared by every router process, so a client's write
 * through one router is honoured by its next read through another, with any load balancing.
 *
 * One hash per client and metastore: `g` (generation, bumped by every write) and `t` (the token,
 * `flavor:gtid`). Each operation is one Lua script, so it is atomic and one round trip:
 * - get: the hash's g and t (and its time-to-live renewed);
 * - offer: sets t only when g is still the one the reader saw and no t is there;
 * - invalidate: g + 1 and t removed.
 *
 * Failures never make a read stale. A read whose get fails takes a fresh token from the primary
 * (the caller's safe path). A write's invalidation is retried until writeTimeoutMs; if the store
 * still has not recorded it, the write's reply goes back anyway (it is committed), the client is
 * remembered here as pending, its reads through this router take fresh tokens, and the invalidation
 * is retried in the background and at once when the store is back. What this cannot cover: another
 * router reading the client's old token from a store that answers it but not this router (a network
 * partition between the routers' hosts), until the retry lands or the token expires.
 */
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { formatGtid, parseGtid, type GtidFlavor, type GtidState } from './gtid';
import type { ClientTokenStore, StoredToken } from './token-store';

export type TokenStoreOperation = 'get' | 'offer' | 'invalidate';
/** ok; unavailable: not connected; timeout: no answer within timeoutMs; error: any other failure; pending: see above. */
export type TokenStoreOutcome = 'ok' | 'unavailable' | 'timeout' | 'error' | 'pending';

export interface RedisTokenStoreOptions {
  readonly url: string;
  /** Prefixes every key, so several router fleets can share one server. */
  readonly keyPrefix: string;
  /** A store operation not answered within this has failed. */
  readonly timeoutMs: number;
  /** How long a write's reply waits for its invalidation to be recorded (retried meanwhile). */
  readonly writeTimeoutMs: number;
  /** Tokens are forgotten this long after their client's last call (consistency.clientTtlMs). */
  readonly ttlMs: number;
  readonly observe: (operation: TokenStoreOperation, outcome: TokenStoreOutcome, seconds: number) => void;
  readonly log: Logger;
}

export class TokenStoreError extends Error {
  constructor(readonly outcome: Exclude<TokenStoreOutcome, 'ok'>, message: string) {
    super(message);
    this.name = 'TokenStoreError';
  }
}

const GET = `
local v = redis.call('HMGET', KEYS[1], 'g', 't')
if v[1] or v[2] then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`;
const OFFER = `
local g = redis.call('HGET', KEYS[1], 'g') or '0'
if g ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 't') == 1 then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;
const INVALIDATE = `
redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HDEL', KEYS[1], 't')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

type ScriptedRedis = Redis & {
  hmsTokenGet(key: string, ttlMs: number): Promise<[string | null, string | null]>;
  hmsTokenOffer(key: string, generation: string, token: string, ttlMs: number): Promise<number>;
  hmsTokenInvalidate(key: string, ttlMs: number): Promise<number>;
};

const RETRY_EVERY_MS = 50;

export class RedisTokenStore implements ClientTokenStore {
  readonly kind = 'redis';
  private readonly redis: ScriptedRedis;
  /** Keys whose invalidation the store has not recorded yet. */
  private readonly pending = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private closed = false;

  constructor(private readonly options: RedisTokenStoreOptions) {
    const redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      // Fail at once while disconnected (the read takes the safe path) instead of queueing.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(1000, options.timeoutMs),
      // Reconnect for ever, at most a second apart: the store comes back by itself.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
      // Not ioredis' auto-pipelining: it holds each command until setImmediate, which on a busy
      // router measured slower (bench:token-store: the get's mean 0.27 -> 0.35 ms alone, 0.68 -> 1.14 ms x8).
    });
    redis.defineCommand('hmsTokenGet', { numberOfKeys: 1, lua: GET });
    redis.defineCommand('hmsTokenOffer', { numberOfKeys: 1, lua: OFFER });
    redis.defineCommand('hmsTokenInvalidate', { numberOfKeys: 1, lua: INVALIDATE });
    redis.on('error', (err: Error) => {
      // ioredis repeats the error on every reconnect attempt: log a change only.
      if (err.message !== this.lastError) options.log.warn({ err: err.message, store: redactUrl(options.url) }, 'token store unreachable; client-mode reads take fresh tokens from the primary');
      this.lastError = err.message;
    });
    redis.on('ready', () => {
      if (this.lastError !== null) options.log.info({ store: redactUrl(options.url) }, 'token store reachable again');
      this.lastError = null;
      void this.retryPending();
    });
    this.redis = redis as ScriptedRedis;
  }

  /** True while connected (for the admin API and the up gauge). */
  get up(): boolean {
    return this.redis.status === 'ready';
  }

  get pendingInvalidations(): number {
    return this.pending.size;
  }

  /** Resolves once connected; rejects naming the cause when the store is not reachable within `ms`. */
  async waitReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.redis.status !== 'ready') {
      if (Date.now() > deadline) {
        throw new Error(`token store ${redactUrl(this.options.url)} not reachable within ${ms} ms${this.lastError ? `: ${this.lastError}` : ''}; check consistency.tokenStore.url and that the server runs`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async get(metastore: string, client: string): Promise<StoredToken> {
    const key = keyOf(metastore, client);
    if (this.pending.has(key)) {
      this.options.observe('get', 'pending', 0);
      throw new TokenStoreError('pending', 'a write of this client is not recorded in the token store yet');
    }
    const [generation, token] = await this.run('get', () => this.redis.hmsTokenGet(key, this.options.ttlMs));
    return { generation: generation ?? '0', token: token === null ? null : this.decoded(token) };
  }

  /**
   * Parsing a GTID costs more CPU than the store's round trip; many clients hold the same few
   * tokens (taken from the same coalesced primary reads), so parsed ones are kept (GtidState is immutable).
   */
  private readonly parsed = new Map<string, GtidState>();

  private decoded(text: string): GtidState {
    let token = this.parsed.get(text);
    if (token === undefined) {
      token = decodeToken(text);
      if (this.parsed.size >= 1024) this.parsed.clear();
      this.parsed.set(text, token);
    }
    return token;
  }

  async offer(metastore: string, client: string, generation: string, token: GtidState): Promise<void> {
    await this.run('offer', () => this.redis.hmsTokenOffer(keyOf(metastore, client), generation, encodeToken(token), this.options.ttlMs));
  }

  async invalidate(metastore: string, client: string): Promise<void> {
    const key = keyOf(metastore, client);
    const deadline = Date.now() + this.options.writeTimeoutMs;
    for (;;) {
      try {
        await this.run('invalidate', () => this.redis.hmsTokenInvalidate(key, this.options.ttlMs));
        this.pending.delete(key);
        return;
      } catch (err) {
        if (Date.now() + RETRY_EVERY_MS > deadline || this.closed) {
          this.pending.add(key);
          this.scheduleRetry();
          throw err;
        }
        await new Promise((r) => setTimeout(r, RETRY_EVERY_MS));
      }
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.retryPending();
    }, 250);
    this.retryTimer.unref();
  }

  /** Records the invalidations the store missed; keeps retrying until none is left. */
  private async retryPending(): Promise<void> {
    for (const key of [...this.pending]) {
      try {
        await this.run('invalidate', () => this.redis.hmsTokenInvalidate(key, this.options.ttlMs));
        this.pending.delete(key);
      } catch {
        break;
      }
    }
    if (this.pending.size > 0) this.scheduleRetry();
  }

  private async run<T>(operation: TokenStoreOperation, command: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    if (this.redis.status !== 'ready') {
      this.options.observe(operation, 'unavailable', 0);
      throw new TokenStoreError('unavailable', `token store not connected (${this.redis.status})${this.lastError ? `: ${this.lastError}` : ''}`);
    }
    try {
      const result = await command();
      this.options.observe(operation, 'ok', seconds());
      return result;
    } catch (err) {
      const outcome = classify(err as Error);
      this.options.observe(operation, outcome, seconds());
      throw new TokenStoreError(outcome, `token store ${operation} failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.redis.disconnect();
  }
}

function classify(err: Error): Exclude<TokenStoreOutcome, 'ok' | 'pending'> {
  if (/timed out/i.test(err.message)) return 'timeout';
  if (/writeable|connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/i.test(err.message)) return 'unavailable';
  return 'error';
}

function keyOf(metastore: string, client: string): string {
  return `token:${metastore}:${client}`;
}

export function encodeToken(token: GtidState): string {
  return `${token.flavor}:${formatGtid(token)}`;
}

export function decodeToken(text: string): GtidState {
  const i = text.indexOf(':');
  return parseGtid(text.slice(0, i) as GtidFlavor, text.slice(i + 1));
}

/** The URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
