/**
 * The engine-like consistency workload: each client (its own loopback address) owns a database and
 * loops: one write (alter_database with a new `version`), then `readsPerWrite` reads, each on a new
 * connection as Presto and Trino make them, each checking that it shows the client's last write. A
 * read that does not is stale. Used by the load balancer test and the scale-out benchmark.
 */
import { HmsTestClient, args } from './hms-test-client';

export interface WorkloadCounts {
  writes: number;
  reads: number;
  stale: number;
  errors: number;
  /** Read latencies in ms (connect + call). */
  latencies: number[];
  /** The first few errors, for a failing test's message. */
  errorSamples: string[];
}

export interface WorkloadClient {
  readonly localAddress: string;
  readonly db: string;
  readonly location: string;
}

/** Clients 127.0.0.<base + i>, databases `<prefix>_<i>`. */
export function workloadClients(count: number, base: number, prefix: string, warehouse: string): WorkloadClient[] {
  return Array.from({ length: count }, (_, i) => ({ localAddress: `127.0.0.${base + i}`, db: `${prefix}_${i}`, location: `${warehouse}/${prefix}_${i}.db` }));
}

/** Drops and creates each client's database, directly on the metastore at `port`. */
export async function createWorkloadDatabases(port: number, clients: readonly WorkloadClient[]): Promise<void> {
  const setup = await HmsTestClient.connect(port);
  try {
    for (const c of clients) {
      await setup.call('drop_database', args.dropDatabase(c.db));
      await setup.success('create_database', args.createDatabase(c.db, c.location));
    }
  } finally { setup.close(); }
}

export async function dropWorkloadDatabases(port: number, clients: readonly WorkloadClient[]): Promise<void> {
  const setup = await HmsTestClient.connect(port);
  try {
    for (const c of clients) await setup.call('drop_database', args.dropDatabase(c.db));
  } finally { setup.close(); }
}

/** Runs the workload against `port` until `until()` is false; every client's first call is a write. */
export async function runOwnWriteWorkload(port: number, clients: readonly WorkloadClient[], readsPerWrite: number,
  until: () => boolean): Promise<WorkloadCounts> {
  const counts: WorkloadCounts = { writes: 0, reads: 0, stale: 0, errors: 0, latencies: [], errorSamples: [] };
  const failed = (err: unknown) => {
    counts.errors += 1;
    if (counts.errorSamples.length < 5) counts.errorSamples.push((err as Error).message);
  };
  await Promise.all(clients.map(async (c) => {
    let version = 0;
    while (until()) {
      version += 1;
      try {
        const writer = await HmsTestClient.connect(port, 'buffered', '127.0.0.1', c.localAddress);
        try {
          await writer.success('alter_database', args.alterDatabase(c.db, c.location, { version: String(version) }));
          counts.writes += 1;
        } finally { writer.close(); }
      } catch (err) { failed(err); continue; }
      for (let r = 0; r < readsPerWrite && until(); r++) {
        const t0 = performance.now();
        try {
          const reader = await HmsTestClient.connect(port, 'buffered', '127.0.0.1', c.localAddress);
          try {
            const result = await reader.call('get_database', args.name(c.db));
            counts.latencies.push(performance.now() - t0);
            counts.reads += 1;
            const database = result.result[0] as Record<number, unknown> | undefined;
            const params = new Map((database?.[4] as Array<[string, string]> | undefined) ?? []);
            if (params.get('version') !== String(version)) counts.stale += 1;
          } finally { reader.close(); }
        } catch (err) { failed(err); }
      }
    }
  }));
  return counts;
}
