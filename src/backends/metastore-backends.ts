/**
 * Every metastore's endpoints and their pools, by metastore name. Picks the endpoint a call goes to:
 * the first primary endpoint that is not failing (several primary endpoints = HA).
 */
import type { Logger } from 'pino';
import { EndpointPool } from './endpoint-pool';
import { parseEndpoint, RouterConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';

export class MetastoreBackends {
  private readonly primaries = new Map<string, EndpointPool[]>();

  constructor(config: RouterConfig, metrics: RouterMetrics, log: Logger) {
    for (const [name, metastore] of Object.entries(config.metastores)) {
      this.primaries.set(name, metastore.primary.endpoints.map((e) => new EndpointPool(parseEndpoint(e), name, metastore, metrics, log)));
    }
  }

  /** The metastore's primary endpoints, healthy ones first (order otherwise as configured). */
  primaryCandidates(metastore: string): EndpointPool[] {
    const pools = this.primaries.get(metastore);
    if (pools === undefined) throw new Error(`unknown metastore '${metastore}'`);
    if (pools.length === 1) return pools;
    return [...pools.filter((p) => p.recentFailure() === null), ...pools.filter((p) => p.recentFailure() !== null)];
  }

  allPools(): EndpointPool[] {
    return [...this.primaries.values()].flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.allPools().map((p) => p.close()));
  }
}
