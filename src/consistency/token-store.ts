/**
 * Where `client` mode keeps its tokens. The rule is the same for every store: a token present means
 * "this client's reads must see at least this"; no token means the next read takes a fresh one from
 * the primary (which covers every write whose reply the client has). A write removes the client's
 * token and bumps its generation before its reply goes back, and a token read from the primary is
 * only kept if no write came since that read began (same generation). So a store that forgets
 * (restart, eviction, expiry) is safe: forgetting only costs a primary read.
 *
 * - LocalTokenStore: in this process (one router; behind a load balancer only with client affinity).
 * - RedisTokenStore (token-store-redis.ts): shared by every router process and worker.
 */
import { ClientTokens } from './session-tokens';
import type { GtidState } from './gtid';

export interface StoredToken {
  readonly token: GtidState | null;
  /** Opaque: handed back to offer(), which keeps the token only if no write came in between. */
  readonly generation: string;
}

export interface ClientTokenStore {
  readonly kind: 'local' | 'redis';
  /** The client's token, or none. Rejects when the store cannot answer (the read then takes the safe path). */
  get(metastore: string, client: string): Promise<StoredToken>;
  /** Keeps `token` as the client's unless a write came since `generation` was read, or a token is already there. */
  offer(metastore: string, client: string, generation: string, token: GtidState): Promise<void>;
  /** A write of the client reached the primary: its next read needs a fresh token. Rejects when not recorded. */
  invalidate(metastore: string, client: string): Promise<void>;
  close(): Promise<void>;
}

/** Tokens in this process's memory; never fails. */
export class LocalTokenStore implements ClientTokenStore {
  readonly kind = 'local';
  private readonly tokens: ClientTokens;

  constructor(ttlMs: number) {
    this.tokens = new ClientTokens(ttlMs);
  }

  get(metastore: string, client: string): Promise<StoredToken> {
    const holder = this.tokens.holder(`${metastore}|${client}`);
    return Promise.resolve({ token: holder.token, generation: String(holder.generation) });
  }

  offer(metastore: string, client: string, generation: string, token: GtidState): Promise<void> {
    const holder = this.tokens.holder(`${metastore}|${client}`);
    if (holder.token === null && String(holder.generation) === generation) holder.token = token;
    return Promise.resolve();
  }

  invalidate(metastore: string, client: string): Promise<void> {
    const holder = this.tokens.holder(`${metastore}|${client}`);
    holder.token = null;
    holder.generation += 1;
    return Promise.resolve();
  }

  get size(): number {
    return this.tokens.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
