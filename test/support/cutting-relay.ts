/**
 * A TCP relay in front of a real metastore that plays the network failing: in 'pass' mode it relays
 * both ways; in 'cut-replies' mode it relays requests to the metastore (which executes them) and cuts
 * the connection when the reply comes back, so the caller cannot know whether its call ran; in
 * 'swallow-replies' mode it drops replies and keeps the connection open (a metastore that hangs);
 * in 'hold-replies' mode it keeps replies until release() (a slow metastore, on cue); in
 * 'get-database-fails' mode it answers get_database itself with the NoSuchObjectException a Hive 3
 * metastore gives while its MySQL connection is broken (seen in the soak run during a MariaDB
 * restart), and relays every other call.
 * A real metastore cannot be made to do this on command; everything behind the relay is real.
 * In 'pass' mode it is a plain TCP relay (used in front of MySQL too).
 */
import { connect, createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { MessageReader } from '../../src/thrift/message-reader';
import { metaExceptionReply } from '../../src/thrift/error-replies';

export type RelayMode = 'pass' | 'cut-replies' | 'swallow-replies' | 'hold-replies' | 'get-database-fails';

/** The text Hive 3.1.3 put in get_database's NoSuchObjectException during the soak run. */
export const BROKEN_MYSQL_NO_SUCH_OBJECT = 'Exception thrown when executing query : SELECT DISTINCT \'org.apache.hadoop.hive.metastore.model.MDatabase\' AS NUCLEUS_TYPE';

export class CuttingRelay {
  mode: RelayMode = 'pass';
  /** Replies cut so far. */
  cuts = 0;
  /** get_database calls answered with NoSuchObjectException in 'get-database-fails' mode. */
  failedGetDatabase = 0;
  private readonly sockets = new Set<Socket>();
  /** Replies held in 'hold-replies' mode: the client socket and the bytes, in order. */
  private readonly held: Array<[Socket, Buffer]> = [];
  /** Connections with a reply held. */
  get heldReplies(): number {
    return new Set(this.held.map(([socket]) => socket)).size;
  }

  /** Sends every held reply and relays as usual from now on. */
  release(): void {
    this.mode = 'pass';
    for (const [socket, chunk] of this.held.splice(0)) socket.write(chunk);
  }

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number, listenPort = 0): Promise<CuttingRelay> {
    let relay!: CuttingRelay;
    const server = createServer((client) => {
      const backend = connect(targetPort, '127.0.0.1');
      relay.sockets.add(client);
      relay.sockets.add(backend);
      // In 'get-database-fails' mode requests are read as messages (the router's backend connections
      // are buffered) so one can be answered here; in the others bytes pass as they are, so the relay
      // also serves MySQL. Switch modes between calls, not in the middle of one.
      const requests = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 30 });
      client.on('data', (chunk: Buffer) => {
        if (relay.mode !== 'get-database-fails') { backend.write(chunk); return; }
        for (const request of requests.push(chunk)) {
          if (relay.mode === 'get-database-fails' && request.header.name === 'get_database') {
            relay.failedGetDatabase += 1;
            // get_database's result: field 1 is NoSuchObjectException{1: message}, laid out as a MetaException.
            client.write(metaExceptionReply('get_database', request.header.seqid, 1, BROKEN_MYSQL_NO_SUCH_OBJECT));
          } else {
            backend.write(request.bytes);
          }
        }
      });
      backend.on('data', (chunk: Buffer) => {
        if (relay.mode === 'cut-replies') {
          relay.cuts += 1;
          client.destroy();
          backend.destroy();
          return;
        }
        if (relay.mode === 'swallow-replies') return;
        if (relay.mode === 'hold-replies') { relay.held.push([client, chunk]); return; }
        client.write(chunk);
      });
      const close = () => { client.destroy(); backend.destroy(); relay.sockets.delete(client); relay.sockets.delete(backend); };
      client.on('error', close);
      backend.on('error', close);
      client.on('close', close);
      backend.on('close', close);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    relay = new CuttingRelay(server, (server.address() as AddressInfo).port);
    return relay;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
