/**
 * How far a replica is behind, in transactions: what the primary has executed that the replica
 * has not. Pure; used for the lag metric only (routing decisions use `covers`).
 */
import type { GtidState, GtidInterval } from './gtid';

export function transactionsBehind(replica: GtidState, primary: GtidState): bigint {
  if (replica.flavor === 'mariadb' && primary.flavor === 'mariadb') {
    let behind = 0n;
    for (const [domain, entry] of primary.domains) {
      const applied = replica.domains.get(domain)?.seqNo ?? 0n;
      if (entry.seqNo > applied) behind += entry.seqNo - applied;
    }
    return behind;
  }
  if (replica.flavor === 'mysql' && primary.flavor === 'mysql') {
    let behind = 0n;
    for (const [source, intervals] of primary.sets) {
      behind += missing(intervals, replica.sets.get(source) ?? []);
    }
    return behind;
  }
  throw new Error('transactionsBehind: GTID flavours differ');
}

/** Count of numbers in `want` not in `have` (both sorted, merged interval lists). */
function missing(want: readonly GtidInterval[], have: readonly GtidInterval[]): bigint {
  let count = 0n;
  let j = 0;
  for (const w of want) {
    let cursor = w.start;
    while (j < have.length && have[j]!.end < cursor) j++;
    let k = j;
    while (cursor <= w.end) {
      const h = have[k];
      if (h === undefined || h.start > w.end) {
        count += w.end - cursor + 1n;
        break;
      }
      if (h.start > cursor) count += h.start - cursor;
      cursor = h.end + 1n;
      k++;
    }
  }
  return count;
}
