/**
 * Whether a proxy's answers are the metastore's answers: speed means little if the reply differs.
 * Two checks per proxy, against the metastore directly, run once per suite:
 * - fidelity: get_table and get_partitions_by_names through the proxy give the same bytes as direct
 *   (the message body after the header, since seqids differ); when not, which top-level fields of the
 *   returned struct are missing or extra (a proxy built on older Thrift classes drops newer fields);
 * - freshness: a database created on the metastore after the proxy connection opened shows up in
 *   get_all_databases on that same connection.
 */
import { MessageType } from '../../src/thrift/protocol';
import type { ThriftStruct } from '../../src/thrift/value-decoder';
import { HmsTestClient, args, type CallResult } from '../../test/support/hms-test-client';
import { dbTableArgs, partitionsByNamesArgs } from '../../test/support/hms-objects';
import type { ProbeResult } from './results';
import { TABLE } from './objects';

const FRESHNESS_DB = 'bench_suite_freshness_probe';

/** The reply's body (result struct onward): comparable across connections. */
function body(r: CallResult): Buffer {
  const nameLength = r.bytes.readInt32BE(4);
  return r.bytes.subarray(8 + nameLength + 4);
}

/** The first struct of the answer: the struct itself, or a list's first element. */
function firstStruct(r: CallResult): ThriftStruct | null {
  if (r.type !== MessageType.REPLY) return null;
  const v = r.result[0];
  if (Array.isArray(v)) return (v[0] ?? null) as ThriftStruct | null;
  return v !== null && typeof v === 'object' ? v as ThriftStruct : null;
}

function fieldIds(s: ThriftStruct | null): number[] {
  return s === null ? [] : Object.keys(s).map(Number).sort((a, b) => a - b);
}

function compare(what: string, direct: CallResult, proxy: CallResult): string {
  if (body(direct).equals(body(proxy))) return 'identical';
  const d = fieldIds(firstStruct(direct));
  const p = fieldIds(firstStruct(proxy));
  const missing = d.filter((id) => !p.includes(id));
  const extra = p.filter((id) => !d.includes(id));
  const parts = [
    ...(missing.length > 0 ? [`${what} fields ${missing.join(', ')} missing`] : []),
    ...(extra.length > 0 ? [`${what} fields ${extra.join(', ')} added`] : []),
  ];
  const size = `${proxy.bytes.length} bytes against ${direct.bytes.length}`;
  return `differs: ${parts.length > 0 ? parts.join('; ') : 'same fields, other values'} (${size})`;
}

async function withClient<T>(port: number, body: (c: HmsTestClient) => Promise<T>): Promise<T> {
  const c = await HmsTestClient.connect(port);
  try {
    return await body(c);
  } finally {
    c.close();
  }
}

/** Fidelity and freshness of `proxyPort` against `directPort` (the metastore it fronts for `db`). */
export async function probeProxy(proxyPort: number, directPort: number, db: string, partitionNames: readonly string[],
  warehouse: string): Promise<ProbeResult> {
  const calls = [
    { what: 'Table', method: 'get_table', write: dbTableArgs(db, TABLE) },
    { what: 'Partition', method: 'get_partitions_by_names', write: partitionsByNamesArgs(db, TABLE, partitionNames.slice(0, 10)) },
  ];
  const fidelity: Record<string, string> = {};
  for (const { what, method, write } of calls) {
    const direct = await withClient(directPort, (c) => c.call(method, write));
    const proxy = await withClient(proxyPort, (c) => c.call(method, write));
    fidelity[method] = compare(what, direct, proxy);
  }

  const proxy = await HmsTestClient.connect(proxyPort);
  try {
    const listed = async () => ((await proxy.success('get_all_databases')) as string[]).includes(FRESHNESS_DB);
    await withClient(directPort, (c) => c.call('drop_database', args.dropDatabase(FRESHNESS_DB)));
    const before = await listed();
    await withClient(directPort, (c) => c.success('create_database', args.createDatabase(FRESHNESS_DB, `${warehouse}/${FRESHNESS_DB}.db`)));
    const after = await listed();
    const onNewConnection = await withClient(proxyPort, async (c) => ((await c.success('get_all_databases')) as string[]).includes(FRESHNESS_DB));
    return {
      fidelity,
      freshness: before ? 'not measured: the probe database was listed before it was created'
        : after ? 'a database created after the connection opened is listed on it at once'
          : `a database created after the connection opened is NOT listed on that connection` +
            `${onNewConnection ? ' (a new connection lists it)' : ''}: get_all_databases answers from an earlier list`,
    };
  } finally {
    proxy.close();
    await withClient(directPort, (c) => c.call('drop_database', args.dropDatabase(FRESHNESS_DB))).catch(() => undefined);
  }
}
