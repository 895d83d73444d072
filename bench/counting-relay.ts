/**
 * A TCP relay that counts the calls passing through it, for benchmarks that must see what a
 * metastore receives independently of the router: put it between the router and the metastore.
 * Bytes are forwarded as they arrive (a copy is parsed after forwarding); per call it records the
 * method, the partition names a get_partitions_by_names request asks for, the reply's size in bytes
 * and the size and element type of a list result (structs: partitions; strings: names).
 *
 * Run as its own process, with an IPC channel (so its parsing costs no CPU in the benchmark process):
 *   const relay = await startCountingRelay(listenPort, targetPort);
 *   await relay.reset(); ...; const report = await relay.report(); await relay.stop();
 */
import { ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { MessageReader, RawMessage } from '../src/thrift/message-reader';
import { MessageType, TType, parseMessageHeader } from '../src/thrift/protocol';
import { skipValue } from '../src/thrift/value-reader';
import { REPO_ROOT } from '../stack/layout';

export interface RelayedCall {
  readonly method: string;
  readonly requestBytes: number;
  /** Partition names asked for (get_partitions_by_names and _req), else null. */
  readonly names: number | null;
  readonly replyBytes: number;
  /** Elements of the result when it is a list (partitions, names), else null. */
  readonly resultElements: number | null;
  /** Element type of that list: 'struct' (partitions, for the listing methods), 'string' (names), ... */
  readonly resultElementType: 'struct' | 'string' | 'other' | null;
  readonly ms: number;
}

export interface RelayReport {
  readonly calls: number;
  readonly callsByMethod: Record<string, number>;
  readonly maxNamesPerCall: number | null;
  readonly maxReplyBytes: number;
  readonly maxReplyMethod: string | null;
  /** Largest list of structs returned by one call: partitions, for the partition listings. */
  readonly maxStructsReturned: number | null;
  /** Largest list of strings returned by one call (get_partition_names and the like). */
  readonly maxStringsReturned: number | null;
  readonly totalReplyBytes: number;
  /** Client connections opened since the last reset. */
  readonly connections: number;
  readonly perCall: RelayedCall[];
}

type Command = { readonly type: 'reset' } | { readonly type: 'report' };

const MAX_MESSAGE = 2 ** 31 - 1;

/** The first field with `id` and `type` of the struct at `pos`, or -1. */
function findField(buf: Buffer, pos: number, id: number, type: number): number {
  let p = pos;
  while (p < buf.length && buf[p] !== TType.STOP) {
    const fieldType = buf[p]!;
    const fieldId = buf.readInt16BE(p + 1);
    if (fieldId === id && fieldType === type) return p + 3;
    p = skipValue(buf, p + 3, fieldType);
  }
  return -1;
}

/** Names in get_partitions_by_names(3: list<string>) or get_partitions_by_names_req(1: {3: list<string>}). */
function partitionNamesAsked(message: RawMessage): number | null {
  const { bytes, header } = message;
  let args = header.bodyOffset;
  if (header.name === 'get_partitions_by_names_req') {
    args = findField(bytes, args, 1, TType.STRUCT);
    if (args < 0) return null;
  } else if (header.name !== 'get_partitions_by_names') {
    return null;
  }
  const list = findField(bytes, args, 3, TType.LIST);
  return list < 0 ? null : bytes.readInt32BE(list + 1);
}

type ResultList = { readonly elements: number; readonly type: 'struct' | 'string' | 'other' } | null;

/**
 * The list a reply returns: the success value when it is a list (get_partitions,
 * get_partition_names, ...), or field 1 of a success struct (PartitionsByExprResult and the like).
 */
function resultList(message: RawMessage): ResultList {
  const { bytes, header } = message;
  const p = header.bodyOffset;
  if (header.type !== MessageType.REPLY || p + 3 > bytes.length || bytes.readInt16BE(p + 1) !== 0) return null;
  let list = -1;
  if (bytes[p] === TType.LIST || bytes[p] === TType.SET) list = p + 3;
  else if (bytes[p] === TType.STRUCT) list = findField(bytes, p + 3, 1, TType.LIST);
  if (list < 0) return null;
  const elem = bytes[list]!;
  return { elements: bytes.readInt32BE(list + 1), type: elem === TType.STRUCT ? 'struct' : elem === TType.STRING ? 'string' : 'other' };
}

/** Forwards `from` to `to` with back-pressure, handing each chunk to `observe` after writing it. */
function forward(from: Socket, to: Socket, observe: (chunk: Buffer) => void): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
    observe(chunk);
  });
}

/** The start of a reply that is kept: enough for its header and the size of the list it returns. */
const REPLY_HEAD_BYTES = 4096;

interface OpenCall {
  readonly method: string;
  readonly requestBytes: number;
  readonly names: number | null;
  readonly startedAt: number;
  replyBytes: number;
  head: Buffer;
  lastByteAt: number;
}

function closeCall(c: OpenCall): RelayedCall {
  let list: ResultList = null;
  try {
    const header = parseMessageHeader(c.head, 0, c.head.length);
    if (header !== null) list = resultList({ bytes: c.head, header });
  } catch {
    list = null; // a head too short for a result struct with fields before its list
  }
  return {
    method: c.method, requestBytes: c.requestBytes, names: c.names, replyBytes: c.replyBytes,
    resultElements: list?.elements ?? null, resultElementType: list?.type ?? null, ms: +(c.lastByteAt - c.startedAt).toFixed(1),
  };
}

/**
 * Requests are parsed whole (they are small); replies are only counted, keeping their first bytes:
 * parsing an 88 MiB reply here would slow the relay down more than the router it measures. A
 * metastore connection carries one call at a time (the router's and the benchmarks' clients wait
 * for each reply), so a reply is every byte that comes back until the next request.
 */
function runRelay(listenPort: number, targetPort: number): void {
  let calls: RelayedCall[] = [];
  let connections = 0;
  const open = new Set<{ call: OpenCall | null }>();
  createServer((client) => {
    connections += 1;
    const backend = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    backend.setNoDelay(true);
    const requests = new MessageReader({ transport: 'buffered', maxMessageBytes: MAX_MESSAGE });
    const state: { call: OpenCall | null } = { call: null };
    open.add(state);
    let broken = false;
    forward(client, backend, (chunk) => {
      if (broken) return;
      let messages: RawMessage[];
      try {
        messages = requests.push(chunk);
      } catch (err) {
        broken = true; // still relayed, no longer counted
        process.stderr.write(`counting relay: stopped counting a connection: ${(err as Error).message}\n`);
        return;
      }
      for (const m of messages) {
        if (state.call !== null) calls.push(closeCall(state.call));
        const now = performance.now();
        state.call = { method: m.header.name, requestBytes: m.bytes.length, names: partitionNamesAsked(m), startedAt: now, replyBytes: 0, head: Buffer.alloc(0), lastByteAt: now };
      }
    });
    forward(backend, client, (chunk) => {
      const c = state.call;
      if (c === null) return;
      c.replyBytes += chunk.length;
      c.lastByteAt = performance.now();
      if (c.head.length < REPLY_HEAD_BYTES) c.head = Buffer.concat([c.head, chunk.subarray(0, REPLY_HEAD_BYTES - c.head.length)]);
    });
    client.on('error', () => backend.destroy());
    backend.on('error', () => client.destroy());
    client.on('close', () => backend.destroy());
    backend.on('close', () => {
      client.destroy();
      if (state.call !== null && state.call.replyBytes > 0) calls.push(closeCall(state.call));
      state.call = null;
      open.delete(state);
    });
  }).on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`counting relay: cannot listen on 127.0.0.1:${listenPort}: ${err.code ?? err.message}\n`);
    process.exit(1);
  }).listen(listenPort, '127.0.0.1', () => process.send?.({ type: 'ready' }));

  process.on('message', (command: Command) => {
    if (command.type === 'reset') {
      calls = [];
      connections = 0;
      for (const state of open) state.call = null;
      process.send?.({ type: 'reset' });
      return;
    }
    // Calls whose reply came back and whose connection has carried nothing since.
    for (const state of open) {
      if (state.call !== null && state.call.replyBytes > 0) calls.push(closeCall(state.call));
      state.call = null;
    }
    const byMethod: Record<string, number> = {};
    let maxNames: number | null = null;
    let maxReply: RelayedCall | null = null;
    let maxStructs: number | null = null;
    let maxStrings: number | null = null;
    for (const c of calls) {
      byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
      if (c.names !== null) maxNames = Math.max(maxNames ?? 0, c.names);
      if (c.resultElements !== null && c.resultElementType === 'struct') maxStructs = Math.max(maxStructs ?? 0, c.resultElements);
      if (c.resultElements !== null && c.resultElementType === 'string') maxStrings = Math.max(maxStrings ?? 0, c.resultElements);
      if (maxReply === null || c.replyBytes > maxReply.replyBytes) maxReply = c;
    }
    const report: RelayReport = {
      calls: calls.length, callsByMethod: byMethod, maxNamesPerCall: maxNames,
      maxReplyBytes: maxReply?.replyBytes ?? 0, maxReplyMethod: maxReply?.method ?? null,
      maxStructsReturned: maxStructs, maxStringsReturned: maxStrings,
      totalReplyBytes: calls.reduce((n, c) => n + c.replyBytes, 0), connections, perCall: calls,
    };
    process.send?.({ type: 'report', report });
  });
  process.on('disconnect', () => process.exit(0));
}

export interface CountingRelay {
  readonly pid: number;
  /** Forgets the calls counted so far. */
  reset(): Promise<void>;
  report(): Promise<RelayReport>;
  stop(): Promise<void>;
}

/** Starts the relay in its own process, listening on 127.0.0.1:listenPort, relaying to 127.0.0.1:targetPort. */
export async function startCountingRelay(listenPort: number, targetPort: number): Promise<CountingRelay> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'counting-relay.ts'), String(listenPort), String(targetPort)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: REPO_ROOT });
  const next = <T>(type: string) => new Promise<T>((resolve, reject) => {
    const onMessage = (m: { type: string } & T) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`counting relay exited (${code}) on port ${listenPort}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  await next('ready');
  return {
    pid: child.pid!,
    async reset() {
      const done = next('reset');
      child.send({ type: 'reset' });
      await done;
    },
    async report() {
      const done = next<{ report: RelayReport }>('report');
      child.send({ type: 'report' });
      return (await done).report;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (require.main === module) {
  const [listenPort, targetPort] = process.argv.slice(2).map(Number);
  if (!listenPort || !targetPort) {
    process.stderr.write('usage: node --import tsx bench/counting-relay.ts LISTEN_PORT TARGET_PORT (with an IPC channel)\n');
    process.exit(2);
  }
  runRelay(listenPort, targetPort);
}
