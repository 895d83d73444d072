/**
 * A bare TCP relay (no parsing, no pooling): the floor any Node proxy pays, measured beside the
 * router in the overhead benchmark. Run as its own process: tsx bench/tcp-relay.ts LISTEN_PORT TARGET_PORT
 */
import { connect, createServer } from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
createServer((client) => {
  const backend = connect(targetPort!, '127.0.0.1');
  client.setNoDelay(true);
  backend.setNoDelay(true);
  client.pipe(backend);
  backend.pipe(client);
  client.on('error', () => backend.destroy());
  backend.on('error', () => client.destroy());
  client.on('close', () => backend.destroy());
  backend.on('close', () => client.destroy());
}).listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
