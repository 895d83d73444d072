/**
 * Users, GTID replication and the test helpers that make lag on demand.
 */
import { runAsRoot, rootConnection } from './mariadb';

export const HIVE_USER = { user: 'hive', password: 'hive' } as const;
/** The ro metastore reads through a user that can only SELECT. */
export const HIVE_RO_USER = { user: 'hive_ro', password: 'hive_ro' } as const;
/** What the router uses to read and wait for GTID positions. */
export const ROUTER_USER = { user: 'router', password: 'router' } as const;
const REPL_USER = { user: 'repl', password: 'repl' } as const;

function createUser(user: string, password: string, grants: string[]): string[] {
  return [
    `CREATE USER IF NOT EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`,
    ...grants.map((g) => `GRANT ${g} TO '${user}'@'127.0.0.1'`),
  ];
}

/** Metastore database and users on a server that takes writes (primary or federated). */
export async function createMetastoreUsers(port: number, database: string): Promise<void> {
  await runAsRoot(port, [
    `CREATE DATABASE IF NOT EXISTS ${database} CHARACTER SET latin1`,
    // Grants cover every per-version metastore database (hms_3_1_3, hms_4_1_0, ...).
    ...createUser(HIVE_USER.user, HIVE_USER.password, ['ALL PRIVILEGES ON `hms\\_%`.*']),
    ...createUser(HIVE_RO_USER.user, HIVE_RO_USER.password, ['SELECT ON `hms\\_%`.*']),
    // SELECT: the change feed reads the metastore's NOTIFICATION_LOG (a db-level grant, valid before the tables exist).
    ...createUser(ROUTER_USER.user, ROUTER_USER.password, ['BINLOG MONITOR, SLAVE MONITOR ON *.*', 'SELECT ON `hms\\_%`.*']),
    ...createUser(REPL_USER.user, REPL_USER.password, ['REPLICATION SLAVE ON *.*']),
  ]);
}

/** Points the replica at the primary with GTID replication and starts it (idempotent). */
export async function startReplication(primaryPort: number, replicaPort: number): Promise<void> {
  const [status] = (await runAsRoot(replicaPort, 'SHOW SLAVE STATUS')) as [Record<string, unknown>[]];
  if (!status || status.length === 0) {
    await runAsRoot(replicaPort, [
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primaryPort}, ` +
        `MASTER_USER='${REPL_USER.user}', MASTER_PASSWORD='${REPL_USER.password}', ` +
        'MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1',
    ]);
  }
  await runAsRoot(replicaPort, 'START SLAVE');
}

export interface GtidPositions {
  /** @@gtid_binlog_pos of the primary: every transaction it has written. */
  readonly primary: string;
  /** @@gtid_slave_pos of the replica: every replicated transaction it has applied. */
  readonly replicaSlavePos: string;
  /** @@gtid_current_pos of the replica. */
  readonly replicaCurrentPos: string;
}

export async function readGtidPositions(primaryPort: number, replicaPort: number): Promise<GtidPositions> {
  const [[p]] = (await runAsRoot(primaryPort, 'SELECT @@GLOBAL.gtid_binlog_pos AS pos')) as [[{ pos: string }]];
  const [[r]] = (await runAsRoot(replicaPort,
    'SELECT @@GLOBAL.gtid_slave_pos AS slave, @@GLOBAL.gtid_current_pos AS current')) as [[{ slave: string; current: string }]];
  return { primary: p.pos, replicaSlavePos: r.slave, replicaCurrentPos: r.current };
}

/** Stops the replica's SQL thread: events keep arriving in the relay log but are not applied. */
export async function stopReplicaSqlThread(replicaPort: number): Promise<void> {
  await runAsRoot(replicaPort, 'STOP SLAVE SQL_THREAD');
}

export async function startReplicaSqlThread(replicaPort: number): Promise<void> {
  await runAsRoot(replicaPort, 'START SLAVE SQL_THREAD');
}

/**
 * Lag on demand: the replica's SQL thread stopped `stoppedMs`, started `runningMs`, in cycles until
 * stop(), which ends the cycle under way and leaves the thread running.
 */
export function replicaLagCycles(replicaPort: number, stoppedMs = 1500, runningMs = 1000): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await stopReplicaSqlThread(replicaPort);
      await new Promise((r) => setTimeout(r, stoppedMs));
      await startReplicaSqlThread(replicaPort);
      await new Promise((r) => setTimeout(r, runningMs));
    }
  })();
  return { stop: async () => { running = false; await loop; await startReplicaSqlThread(replicaPort); } };
}

/** Waits until the replica has applied everything the primary had written when called. */
export async function waitForReplicaToCatchUp(primaryPort: number, replicaPort: number, timeoutSec = 60): Promise<void> {
  const { primary } = await readGtidPositions(primaryPort, replicaPort);
  const conn = await rootConnection(replicaPort);
  try {
    const [[row]] = (await conn.query('SELECT MASTER_GTID_WAIT(?, ?) AS r', [primary, timeoutSec])) as unknown as [[{ r: number }]];
    if (row.r !== 0) {
      throw new Error(`replica on port ${replicaPort} did not reach primary GTID ${primary} within ${timeoutSec} s`);
    }
  } finally {
    await conn.end();
  }
}
