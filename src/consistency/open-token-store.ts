/**
 * Opens the shared token store the config asks for (consistency.tokenStore), or none for `local`
 * (each metastore's consistency router then keeps its own tokens in memory).
 */
import type { Logger } from 'pino';
import type { RouterConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';
import type { ClientTokenStore } from './token-store';
import { RedisTokenStore, redactUrl } from './token-store-redis';

export async function openTokenStore(config: RouterConfig, metrics: RouterMetrics, log: Logger): Promise<ClientTokenStore | null> {
  const settings = config.consistency.tokenStore;
  if (settings.type === 'local') return null;
  // Tokens live as long as the longest clientTtlMs of the client-mode metastores.
  const ttlMs = Math.max(...Object.values(config.metastores).map((m) => m.consistency.clientTtlMs));
  const store = new RedisTokenStore({
    url: settings.url, keyPrefix: settings.keyPrefix, timeoutMs: settings.timeoutMs, writeTimeoutMs: settings.writeTimeoutMs, ttlMs,
    observe: (operation, outcome, seconds) => metrics.tokenStoreOperations.observe({ operation, outcome }, seconds),
    log,
  });
  metrics.tokenStoreUp = () => (store.up ? 1 : 0);
  try {
    await store.waitReady(settings.connectWaitMs);
    log.info({ store: redactUrl(settings.url) }, 'token store connected');
  } catch (err) {
    // Not fatal: reads are safe without it (fresh primary tokens), and it is retried for ever.
    log.warn({ err: (err as Error).message }, 'starting without the token store');
  }
  return store;
}
