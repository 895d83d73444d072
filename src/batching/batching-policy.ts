/**
 * Per-metastore batching settings (`metastores.<name>.batching`). They reload with the routing map:
 * a listing keeps the settings it started with.
 */
import { z } from 'zod';

export const batchingSchema = z.strictObject({
  /** Off: every listing goes to the metastore as the client sent it. */
  enabled: z.boolean().default(true),
  /** Listings of at most this many partitions pass through unchanged; larger ones are batched. */
  threshold: z.number().int().min(1).default(5000),
  /**
   * Partitions per get_partitions_by_names call (B): the largest call the metastore receives.
   * Hive 3.1's by-names query costs the metastore a fixed part per call that grows with the
   * table, so small batches of a huge table cost more in total (bench/results/batching.json:
   * 100,000 partitions, B=1000 took 1.4x the unbatched time, B=5000 1.0x).
   */
  batchSize: z.number().int().min(1).max(100_000).default(5000),
  /** Batches of one listing in flight at once (C). */
  inFlight: z.number().int().min(1).max(64).default(2),
  /** Pause before each batch after the first, to spread a listing's load over time. */
  pauseMs: z.number().int().min(0).max(60_000).default(0),
}).prefault({});

export type BatchingPolicy = z.infer<typeof batchingSchema>;

/** What a metastore without a batching section gets. */
export const DEFAULT_BATCHING: BatchingPolicy = batchingSchema.parse({});
