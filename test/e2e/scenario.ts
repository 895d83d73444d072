/**
 * The end-to-end scenario as data: SQL statements an engine runs through the router, each with
 * what its result must be. The same steps for Presto and Trino (both accept this SQL).
 */
import type { StatementOutcome } from '../support/engine-sql';

export type Target = 'rw' | 'fed';

export interface Step {
  readonly step: string;
  /** The metastore the step's database routes to (null: several, or none). */
  readonly metastore: Target | 'archive' | null;
  readonly sql: string;
  /** What the result must be, in words (kept in the report). */
  readonly expect: string;
  /** null when the outcome is as expected, else what is wrong. */
  check(outcome: StatementOutcome): string | null;
}

/** Rows inserted: 10 into each of 50 partitions (5 regions x 10 days). */
export const ROWS = 500;
export const PARTITIONS = 50;

function firstColumn(o: StatementOutcome): string[] {
  return o.rows.map((r) => String(r[0]));
}

function succeeds(o: StatementOutcome): string | null {
  return o.ok ? null : `failed: ${o.error}`;
}

function single(value: number) {
  return (o: StatementOutcome): string | null => {
    if (!o.ok) return `failed: ${o.error}`;
    const got = o.rows[0]?.[0];
    return Number(got) === value && o.rows.length === 1 ? null : `expected ${value}, got ${JSON.stringify(o.rows)}`;
  };
}

function lists(name: string, present: boolean) {
  return (o: StatementOutcome): string | null => {
    if (!o.ok) return `failed: ${o.error}`;
    return firstColumn(o).includes(name) === present ? null : `${name} ${present ? 'missing from' : 'still in'} ${JSON.stringify(firstColumn(o))}`;
  };
}

function failsWith(text: string) {
  return (o: StatementOutcome): string | null => {
    if (o.ok) return `succeeded, expected an error containing '${text}'`;
    return o.error !== null && o.error.includes(text) ? null : `error does not contain '${text}': ${o.error}`;
  };
}

/** SHOW SCHEMAS lists a database of each metastore (created directly on each beforehand). */
export function listingSteps(markers: Record<Target, string>): Step[] {
  return [{
    step: 'show_schemas', metastore: null, sql: 'SHOW SCHEMAS FROM hive',
    expect: `lists ${markers.rw} (rw) and ${markers.fed} (fed)`,
    check: (o) => lists(markers.rw, true)(o) ?? lists(markers.fed, true)(o),
  }];
}

/** Create, fill, query, alter and drop a table partitioned by two keys, in a new schema. */
export function tableSteps(target: Target, db: string): Step[] {
  const t = `hive.${db}.events`;
  const at = (step: string, sql: string, expect: string, check: Step['check']): Step => ({ step, metastore: target, sql, expect, check });
  return [
    at('create_schema', `CREATE SCHEMA hive.${db}`, 'succeeds', succeeds),
    at('show_schemas_new', `SHOW SCHEMAS FROM hive LIKE '${db}'`, `lists ${db}`, lists(db, true)),
    at('create_table',
      `CREATE TABLE ${t} (id bigint, name varchar, region varchar, day integer) WITH (format = 'ORC', partitioned_by = ARRAY['region', 'day'])`,
      'succeeds', succeeds),
    at('show_tables', `SHOW TABLES FROM hive.${db}`, 'lists events', lists('events', true)),
    at('insert',
      `INSERT INTO ${t} SELECT x, 'event ' || CAST(x AS varchar), 'r' || CAST(x % 5 AS varchar), CAST((x / 5) % 10 AS integer) FROM UNNEST(sequence(0, ${ROWS - 1})) AS s(x)`,
      `${ROWS} rows into ${PARTITIONS} partitions`, single(ROWS)),
    at('count', `SELECT count(*) FROM ${t}`, `${ROWS}`, single(ROWS)),
    at('count_partition_filter', `SELECT count(*) FROM ${t} WHERE region = 'r1' AND day = 3`, '10', single(ROWS / PARTITIONS)),
    at('count_one_key_filter', `SELECT count(*) FROM ${t} WHERE day IN (3, 4)`, `${ROWS / 5}`, single(ROWS / 5)),
    at('partitions', `SELECT count(*) FROM hive.${db}."events$partitions"`, `${PARTITIONS}`, single(PARTITIONS)),
    at('add_column', `ALTER TABLE ${t} ADD COLUMN note varchar`, 'succeeds', succeeds),
    at('describe', `DESCRIBE ${t}`, 'lists the new column note', lists('note', true)),
    at('read_new_column', `SELECT count(*) FROM ${t} WHERE note IS NULL`, `${ROWS}`, single(ROWS)),
    at('drop_table', `DROP TABLE ${t}`, 'succeeds', succeeds),
    at('show_tables_dropped', `SHOW TABLES FROM hive.${db}`, 'no longer lists events', lists('events', false)),
    at('drop_schema', `DROP SCHEMA hive.${db}`, 'succeeds', succeeds),
    at('show_schemas_dropped', `SHOW SCHEMAS FROM hive LIKE '${db}'`, `no longer lists ${db}`, lists(db, false)),
  ];
}

/** Refusals the engine must show with the router's reason; reads of the read-only metastore work. */
export function refusalSteps(blocked: { db: string; reason: string }, archive: { db: string; newDb: string; metastore: string }): Step[] {
  const blockedText = `database ${blocked.db} is blocked for maintenance: ${blocked.reason}`;
  return [
    { step: 'blocked_create_schema', metastore: 'rw', sql: `CREATE SCHEMA hive.${blocked.db}`, expect: `error with '${blockedText}'`, check: failsWith(blockedText) },
    { step: 'blocked_select', metastore: 'rw', sql: `SELECT count(*) FROM hive.${blocked.db}.events`, expect: `error with '${blockedText}'`, check: failsWith(blockedText) },
    { step: 'read_only_show_tables', metastore: 'archive', sql: `SHOW TABLES FROM hive.${archive.db}`, expect: 'succeeds (reads are allowed)', check: succeeds },
    {
      step: 'read_only_create_table', metastore: 'archive', sql: `CREATE TABLE hive.${archive.db}.t (a integer)`,
      expect: `error with 'create_table refused: metastore ${archive.metastore} is read-only'`,
      check: failsWith(`create_table refused: metastore ${archive.metastore} is read-only`),
    },
    {
      step: 'read_only_create_schema', metastore: 'archive', sql: `CREATE SCHEMA hive.${archive.newDb}`,
      expect: `error with 'create_database refused: metastore ${archive.metastore} is read-only'`,
      check: failsWith(`create_database refused: metastore ${archive.metastore} is read-only`),
    },
  ];
}
