/**
 * One MySQL or MariaDB server seen through its GTIDs: which flavour it is, what it has executed,
 * and the server's own wait for a GTID. Queries carry a timeout; errors name the server.
 */
import mysql from 'mysql2/promise';
import { GtidFlavor, GtidState, formatGtid, parseGtid } from './gtid';
import type { MysqlConfig } from '../config/schema';

export type ServerRole = 'primary' | 'replica';

export interface ReplicationStatus {
  /** Seconds_Behind_Master as the replica reports it, null when unknown. */
  readonly secondsBehind: number | null;
  /** Slave_SQL_Running = Yes; null when the server does not say. */
  readonly sqlThreadRunning: boolean | null;
  readonly sqlThreadError: string | null;
}

export class GtidServer {
  private readonly pool: mysql.Pool;
  private flavorValue: GtidFlavor | null = null;
  readonly address: string;

  constructor(readonly label: string, config: MysqlConfig, private readonly queryTimeoutMs: number, maxConnections = 8) {
    this.address = `${config.host}:${config.port}`;
    this.pool = mysql.createPool({
      host: config.host, port: config.port, user: config.user, password: config.password,
      connectionLimit: maxConnections, maxIdle: 2, idleTimeout: 60_000,
      connectTimeout: Math.max(1000, queryTimeoutMs), enableKeepAlive: true,
    });
    // A pool error (e.g. the server went away) is reported by the query that hits it.
    this.pool.on('connection', (c) => c.on('error', () => undefined));
  }

  private async query<T>(sql: string, params: unknown[], timeoutMs = this.queryTimeoutMs): Promise<T> {
    try {
      const [rows] = await this.pool.query({ sql, values: params, timeout: timeoutMs });
      return rows as T;
    } catch (err) {
      throw new Error(`MySQL ${this.label} (${this.address}): ${(err as Error).message}`);
    }
  }

  async flavor(): Promise<GtidFlavor> {
    if (this.flavorValue !== null) return this.flavorValue;
    const rows = await this.query<Array<{ v: string }>>('SELECT @@version AS v', []);
    this.flavorValue = /mariadb/i.test(rows[0]?.v ?? '') ? 'mariadb' : 'mysql';
    return this.flavorValue;
  }

  /**
   * What the server has executed. A MariaDB primary reports its binlog position; a MariaDB replica
   * the replicated position it applied (gtid_slave_pos: local writes on a replica must not count).
   */
  async executed(role: ServerRole): Promise<GtidState> {
    const flavor = await this.flavor();
    const variable = flavor === 'mysql' ? '@@GLOBAL.gtid_executed' : role === 'primary' ? '@@GLOBAL.gtid_binlog_pos' : '@@GLOBAL.gtid_slave_pos';
    const rows = await this.query<Array<{ g: string | null }>>(`SELECT ${variable} AS g`, []);
    return parseGtid(flavor, rows[0]?.g ?? '');
  }

  /** The server's own wait (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET): true once reached, false on timeout. */
  async waitFor(token: GtidState, timeoutMs: number): Promise<boolean> {
    const flavor = await this.flavor();
    const fn = flavor === 'mysql' ? 'WAIT_FOR_EXECUTED_GTID_SET' : 'MASTER_GTID_WAIT';
    const rows = await this.query<Array<{ r: number | null }>>(`SELECT ${fn}(?, ?) AS r`,
      [formatGtid(token), timeoutMs / 1000], timeoutMs + this.queryTimeoutMs);
    return Number(rows[0]?.r) === 0;
  }

  /**
   * The replica's replication status (SHOW SLAVE STATUS: MariaDB's SLAVE MONITOR or MySQL's
   * REPLICATION CLIENT privilege): seconds behind and whether its SQL thread runs. Unknowns are
   * null (a server that is not a replica has no row). MySQL 8.0.22+ names the columns Replica_* /
   * *_Source in SHOW REPLICA STATUS; both spellings are read.
   */
  async replicationStatus(): Promise<ReplicationStatus> {
    const rows = await this.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS', []);
    const row = rows[0];
    if (row === undefined) return { secondsBehind: null, sqlThreadRunning: null, sqlThreadError: null };
    const seconds = row.Seconds_Behind_Master ?? row.Seconds_Behind_Source;
    const running = row.Slave_SQL_Running ?? row.Replica_SQL_Running;
    const error = row.Last_SQL_Error;
    return {
      secondsBehind: seconds === null || seconds === undefined ? null : Number(seconds),
      sqlThreadRunning: running === null || running === undefined ? null : String(running) === 'Yes',
      sqlThreadError: typeof error === 'string' && error !== '' ? error : null,
    };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
