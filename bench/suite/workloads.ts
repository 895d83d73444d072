/**
 * The suite's workloads: what each call sends and what a right answer is. A wrong answer throws
 * (counted as an error of that system), so a proxy cannot look fast by answering badly.
 */
import { MessageType } from '../../src/thrift/protocol';
import type { ThriftStruct, ThriftValue } from '../../src/thrift/value-decoder';
import type { CallResult, HmsTestClient } from '../../test/support/hms-test-client';
import { alterTableArgs, dbTableArgs, partitionNamesArgs, partitionsByNamesArgs } from '../../test/support/hms-objects';
import type { Workload } from './measure';
import type { WorkloadCall } from './load';
import { MIXED_DB, TABLE, tableSpec } from './objects';

function success(r: CallResult, method: string): ThriftValue {
  if (r.type === MessageType.REPLY && r.result[0] !== undefined) return r.result[0];
  const text = JSON.stringify(r.result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 300);
  throw new Error(`${method}: ${r.type === MessageType.EXCEPTION ? 'TApplicationException' : 'exception'} ${text}`);
}

/** A void method's answer: a REPLY whose result struct holds no exception field. */
function done(r: CallResult, method: string): void {
  if (r.type === MessageType.REPLY && Object.keys(r.result).length === 0) return;
  const text = JSON.stringify(r.result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 300);
  throw new Error(`${method}: ${r.type === MessageType.EXCEPTION ? 'TApplicationException' : 'exception'} ${text}`);
}

function listOf(value: ThriftValue, method: string, length?: number): ThriftValue[] {
  if (!Array.isArray(value)) throw new Error(`${method}: expected a list`);
  if (length !== undefined && value.length !== length) throw new Error(`${method}: ${value.length} items, expected ${length}`);
  return value as ThriftValue[];
}

/** The metadata reads engines make while planning a query. */
export function readCalls(db: string, byNames: readonly string[]): Array<{ method: string; call: WorkloadCall }> {
  return [
    {
      method: 'get_table',
      call: async (c) => {
        const table = success(await c.call('get_table', dbTableArgs(db, TABLE)), 'get_table') as ThriftStruct;
        if (table[1] !== TABLE) throw new Error(`get_table: got table ${String(table[1])}`);
      },
    },
    {
      method: 'get_partition_names',
      call: async (c) => { listOf(success(await c.call('get_partition_names', partitionNamesArgs(db, TABLE)), 'get_partition_names'), 'get_partition_names', 240); },
    },
    {
      method: 'get_partitions_by_names(100)',
      call: async (c) => {
        listOf(success(await c.call('get_partitions_by_names', partitionsByNamesArgs(db, TABLE, byNames)), 'get_partitions_by_names'), 'get_partitions_by_names', byNames.length);
      },
    },
    {
      method: 'get_all_databases',
      call: async (c) => {
        const names = listOf(success(await c.call('get_all_databases'), 'get_all_databases'), 'get_all_databases');
        if (!names.includes(db)) throw new Error(`get_all_databases: ${db} missing`);
      },
    },
  ];
}

/** Persistent connections at 1, 16 and 64 callers, and a new connection per call at 16 (the Presto/Trino pattern). */
export const SHAPES: ReadonlyArray<{ concurrency: number; connectionPerCall: boolean; label: string }> = [
  { concurrency: 1, connectionPerCall: false, label: 'x1' },
  { concurrency: 16, connectionPerCall: false, label: 'x16' },
  { concurrency: 64, connectionPerCall: false, label: 'x64' },
  { concurrency: 16, connectionPerCall: true, label: 'new connection per call x16' },
];

export function readWorkloads(db: string, byNames: readonly string[]): Workload[] {
  return readCalls(db, byNames).flatMap(({ method, call }) => SHAPES.map((shape): Workload => ({
    part: 'reads',
    name: `${method} ${shape.label}`,
    description: `${method} on ${db}.${TABLE} (240 partitions)`,
    concurrency: shape.concurrency,
    connectionPerCall: shape.connectionPerCall,
    call,
  })));
}

/**
 * Mixed 10:1: each caller owns table t<worker>; every 11th call alters it (parameter seq += 1), the
 * others read it and check seq is the caller's last write: a stale read is counted, never hidden.
 * The callers' last writes persist across systems and rounds (seq only grows).
 */
export function mixedWorkload(warehouse: string, concurrency: number, split: boolean): Workload {
  const written = new Array<number>(concurrency).fill(0);
  const steps = new Array<number>(concurrency).fill(0);
  const call: WorkloadCall = async (c: HmsTestClient, ctx) => {
    const w = ctx.worker;
    steps[w] = steps[w]! + 1;
    if (steps[w]! % 11 === 0) {
      const next = written[w]! + 1;
      done(await c.call('alter_table', alterTableArgs(tableSpec(MIXED_DB, warehouse, `t${w}`, { seq: String(next) }))), 'alter_table');
      written[w] = next;
      ctx.count('writes');
      return;
    }
    const table = success(await c.call('get_table', dbTableArgs(MIXED_DB, `t${w}`)), 'get_table') as ThriftStruct;
    const params = (table[9] ?? []) as Array<[ThriftValue, ThriftValue]>;
    const seq = Number(params.find(([k]) => k === 'seq')?.[1] ?? NaN);
    ctx.count('reads');
    ctx.count('staleReads', seq >= written[w]! ? 0 : 1);
  };
  return {
    part: 'mixed',
    name: `get_table + alter_table 10:1 x${concurrency}, ${split ? 'read/write split' : 'primary only'}`,
    description: `${concurrency} callers on persistent connections, each reading and altering its own table; ` +
      (split ? 'the router splits reads to the replica (session consistency)'
        : 'the router sends every call to the primary, as direct and Waggle Dance do (like for like)'),
    concurrency,
    connectionPerCall: false,
    call,
    notes: ['staleReads: reads that did not see the caller\'s own last write (must be 0)',
      ...(split ? ['replicaShare: share of the router\'s reads served by the replica (from its metrics, median over rounds); direct and Waggle Dance send everything to the primary',
        'the replica\'s metastore runs on the same 2 cores as the primary\'s and is slower than it here (MariaDB replica): the split takes reads off the primary, it cannot add capacity on one machine'] : []),
    ],
  };
}
