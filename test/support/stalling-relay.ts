/**
 * A TCP relay that goes silent on cue: from the first request that contains a marker (e.g. one
 * statement of a MySQL conversation), every reply is dropped while the connection stays open, as
 * when a server or the network stops answering without closing anything. Timed by what the client
 * sends, not by a clock, so a test can stall a conversation at one exact step.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export class StallingRelay {
  /** 'silent': replies are dropped (the connection stays open). */
  mode: 'pass' | 'silent' = 'pass';
  /** Requests seen while silent (the stalled conversation and any later one). */
  stalledRequests = 0;
  private marker: Buffer | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  /** Goes silent from the next request that contains `marker` (that request reaches the server; its reply does not come back). */
  silenceFrom(marker: string): void {
    this.marker = Buffer.from(marker, 'utf8');
  }

  static async start(targetPort: number): Promise<StallingRelay> {
    let relay!: StallingRelay;
    const server = createServer((client) => {
      const backend = connect(targetPort, '127.0.0.1');
      relay.sockets.add(client);
      relay.sockets.add(backend);
      client.on('data', (chunk: Buffer) => {
        if (relay.marker !== null && chunk.includes(relay.marker)) {
          relay.marker = null;
          relay.mode = 'silent';
        }
        if (relay.mode === 'silent') relay.stalledRequests += 1;
        backend.write(chunk);
      });
      backend.on('data', (chunk: Buffer) => { if (relay.mode === 'pass') client.write(chunk); });
      const close = () => { client.destroy(); backend.destroy(); relay.sockets.delete(client); relay.sockets.delete(backend); };
      for (const s of [client, backend]) { s.on('error', close); s.on('close', close); }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    relay = new StallingRelay(server, (server.address() as AddressInfo).port);
    return relay;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
