/**
 * Proof that the local stack is real: a metastore on the replica sees what the rw metastore wrote
 * only once MariaDB replication has applied it, and the GTID helper reports what MariaDB reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../stack/stack';
import { readGtidPositions, startReplicaSqlThread, stopReplicaSqlThread, waitForReplicaToCatchUp } from '../../stack/replication';
import { runAsRoot } from '../../stack/mariadb';
import { HmsTestClient, args } from '../support/hms-test-client';

const stack = status();
const primary = stack.mysql.primary.port;
const replica = stack.mysql.replica.port;

async function databaseVisible(client: HmsTestClient, name: string): Promise<boolean> {
  const r = await client.call('get_database', args.name(name));
  if (r.result[0] !== undefined) return true;
  if (r.result[1] !== undefined) return false; // NoSuchObjectException
  throw new Error(`get_database(${name}) failed: ${JSON.stringify(r.result)}`);
}

describe('local stack', () => {
  let rw: HmsTestClient;
  let ro: HmsTestClient;
  const name = `stack_proof_${Date.now()}`;

  beforeAll(async () => {
    expect(stack.running).toBe(true);
    rw = await HmsTestClient.connect(stack.metastores.rw.port);
    ro = await HmsTestClient.connect(stack.metastores.ro.port);
  });

  afterAll(async () => {
    await startReplicaSqlThread(replica);
    await rw.call('drop_database', args.dropDatabase(name));
    rw.close();
    ro.close();
  });

  it('status lists every endpoint as up', () => {
    for (const e of [...Object.values(stack.mysql), ...Object.values(stack.metastores)]) {
      expect(e.up, `${JSON.stringify(e)}`).toBe(true);
    }
    expect(stack.metastores.rw.uri).toBe(`thrift://127.0.0.1:${stack.metastores.rw.port}`);
  });

  it('a database created through rw reaches ro only when the replica applies it', async () => {
    await stopReplicaSqlThread(replica);
    await rw.success('create_database', args.createDatabase(name, `${stack.warehouse}/${name}.db`));
    expect(await databaseVisible(rw, name)).toBe(true);
    // The event is in the replica's relay log but not applied: the ro metastore must not see it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await databaseVisible(ro, name)).toBe(false);
    const lagging = await readGtidPositions(primary, replica);
    expect(lagging.replicaSlavePos).not.toBe(lagging.primary);

    await startReplicaSqlThread(replica);
    await waitForReplicaToCatchUp(primary, replica, 30);
    expect(await databaseVisible(ro, name)).toBe(true);
  });

  it('the ro metastore cannot write (its MySQL user may only read)', async () => {
    const r = await ro.call('create_database', args.createDatabase(`${name}_ro`, `${stack.warehouse}/${name}_ro.db`));
    const failed = r.type === 3 || Object.keys(r.result).some((id) => id !== '0');
    expect(failed).toBe(true);
  });

  it('GTID positions read by the helper match what MariaDB reports', async () => {
    await runAsRoot(primary, `CREATE DATABASE IF NOT EXISTS gtid_probe; DROP DATABASE gtid_probe`);
    await waitForReplicaToCatchUp(primary, replica, 30);
    const positions = await readGtidPositions(primary, replica);
    // The primary: the GTID of its current binlog file and offset, as MariaDB computes it.
    const [[master]] = (await runAsRoot(primary, 'SHOW MASTER STATUS')) as [[{ File: string; Position: number }]];
    const [[fromBinlog]] = (await runAsRoot(primary, `SELECT BINLOG_GTID_POS('${master.File}', ${master.Position}) AS pos`)) as [[{ pos: string }]];
    expect(positions.primary).toBe(fromBinlog.pos);
    // The replica: what its replication status reports.
    const [[slave]] = (await runAsRoot(replica, 'SHOW ALL SLAVES STATUS')) as [[{ Gtid_Slave_Pos: string }]];
    expect(positions.replicaSlavePos).toBe(slave.Gtid_Slave_Pos);
    expect(positions.replicaSlavePos).toBe(positions.primary);

    await stopReplicaSqlThread(replica);
    await runAsRoot(primary, `CREATE DATABASE IF NOT EXISTS gtid_probe; DROP DATABASE gtid_probe`);
    const lagging = await readGtidPositions(primary, replica);
    const [seqPrimary, seqReplica] = [lagging.primary, lagging.replicaSlavePos].map((p) => Number(p.split('-')[2]));
    expect(seqPrimary).toBe(seqReplica! + 2);
    await startReplicaSqlThread(replica);
  });
});
