/**
 * Every metastore's endpoints and their pools, by metastore name: the primary's endpoints (several
 * = HA, healthy ones first) and each replica's read-only endpoints.
 */
import type { Logger } from 'pino';
import { EndpointPool } from './endpoint-pool';
import { parseEndpoint, RouterConfig } from '../config/schema';
import type { RouterMetrics } from '../admin/metrics';
import type { RouterCredentials } from '../auth/router-credentials';

export class MetastoreBackends {
  private readonly primaries = new Map<string, EndpointPool[]>();
  private readonly replicas = new Map<string, Map<string, EndpointPool[]>>();

  constructor(config: RouterConfig, metrics: RouterMetrics, log: Logger, credentials: RouterCredentials | null = null) {
    for (const [name, metastore] of Object.entries(config.metastores)) {
      this.primaries.set(name, metastore.primary.endpoints.map((e) => new EndpointPool(parseEndpoint(e), name, metastore, metrics, log, credentials)));
      const byReplica = new Map<string, EndpointPool[]>();
      if (metastore.consistency.mode !== 'off') {
        for (const replica of metastore.replicas) {
          byReplica.set(replica.name, replica.endpoints.map((e) => new EndpointPool(parseEndpoint(e), name, metastore, metrics, log, credentials)));
        }
      }
      this.replicas.set(name, byReplica);
    }
  }

  /**
   * The metastore's primary endpoints, those in service first (order otherwise as configured). The
   * ones out of service stay at the end: when every endpoint is out, the call still tries them.
   */
  primaryCandidates(metastore: string): EndpointPool[] {
    const pools = this.primaries.get(metastore);
    if (pools === undefined) throw new Error(`unknown metastore '${metastore}'`);
    if (pools.length === 1) return pools;
    return [...pools.filter((p) => p.inService), ...pools.filter((p) => !p.inService)];
  }

  /** Pools of each replica of the metastore, by replica name. */
  replicaPools(metastore: string): ReadonlyMap<string, EndpointPool[]> {
    return this.replicas.get(metastore) ?? new Map();
  }

  allPools(): EndpointPool[] {
    const replicaPools = [...this.replicas.values()].flatMap((m) => [...m.values()].flat());
    return [...[...this.primaries.values()].flat(), ...replicaPools];
  }

  async close(): Promise<void> {
    await Promise.all(this.allPools().map((p) => p.close()));
  }
}
