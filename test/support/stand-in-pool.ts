/**
 * A stand-in HMS endpoint pool for the consistency unit tests: only endpoint, recentFailure(),
 * inService and the breaker's description matter to that code. `failure` is set by the test.
 */
import { parseEndpoint } from '../../src/config/schema';
import type { BackendError } from '../../src/backends/backend-error';

export function standInPool(address: string) {
  const pool = {
    endpoint: parseEndpoint(address),
    failure: null as BackendError | null,
    recentFailure(): BackendError | null { return pool.failure; },
    get inService(): boolean { return pool.failure === null; },
    breaker: { describe: () => ({ state: 'closed', since: '', reason: null }) },
  };
  return pool;
}
