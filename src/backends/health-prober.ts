/**
 * Probes every HMS endpoint periodically (EndpointPool.probe), so a dead endpoint is taken out
 * before a client's call finds it, and a returning one is brought back without waiting for traffic.
 */
import type { EndpointPool } from './endpoint-pool';

export class HealthProber {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly pools: readonly EndpointPool[]) {}

  start(): void {
    for (const pool of this.pools) {
      let probing = false;
      const timer = setInterval(() => {
        if (probing) return; // a probe never overlaps the previous one of the same endpoint
        probing = true;
        void pool.probe().finally(() => { probing = false; });
      }, pool.healthIntervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
