/**
 * What the router reads from a call's bytes: catalog entry, database (with @catalog#db names),
 * catalog and table.
 */
import { describe, expect, it } from 'vitest';
import { describeCall } from '../../src/hms/call-info';
import { parseDbName } from '../../src/hms/db-name';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { MessageType, TType, parseMessageHeader } from '../../src/thrift/protocol';

function call(name: string, writeArgs: (w: BinaryWriter) => void) {
  const w = new BinaryWriter().messageBegin(name, MessageType.CALL, 1);
  writeArgs(w);
  const bytes = w.fieldStop().finish();
  return { bytes, header: parseMessageHeader(bytes, 0, bytes.length)! };
}

describe('parseDbName', () => {
  it.each([
    ['sales', { catalog: null, db: 'sales' }],
    ['@hive#sales', { catalog: 'hive', db: 'sales' }],
    ['@spark#', { catalog: 'spark', db: null }],
    ['@hive#!', { catalog: 'hive', db: '' }],
    ['@odd_name_without_hash', { catalog: null, db: '@odd_name_without_hash' }],
  ])('%s', (raw, expected) => {
    expect(parseDbName(raw)).toEqual(expected);
  });
});

describe('describeCall', () => {
  it('reads a plain database and table argument, lower-casing the database', () => {
    const info = describeCall(call('get_table', (w) => { w.fieldBegin(TType.STRING, 1).string('Sales').fieldBegin(TType.STRING, 2).string('orders'); }));
    expect(info).toMatchObject({ method: 'get_table', db: 'sales', table: 'orders', catalog: null });
    expect(info.entry?.kind).toBe('read');
  });

  it('reads a catalog-qualified database name', () => {
    const info = describeCall(call('get_all_tables', (w) => { w.fieldBegin(TType.STRING, 1).string('@hive#web'); }));
    expect(info).toMatchObject({ db: 'web', catalog: 'hive' });
  });

  it('reads a database inside a request struct, with its catalog field', () => {
    const info = describeCall(call('get_table_req', (w) => {
      w.fieldBegin(TType.STRUCT, 1)
        .fieldBegin(TType.STRING, 1).string('web')
        .fieldBegin(TType.STRING, 2).string('clicks')
        .fieldBegin(TType.STRING, 4).string('spark')
        .fieldStop();
    }));
    expect(info).toMatchObject({ db: 'web', table: 'clicks', catalog: 'spark' });
  });

  it('knows an unknown method only by name', () => {
    const info = describeCall(call('get_something_from_hive_9', () => {}));
    expect(info).toEqual({ method: 'get_something_from_hive_9', entry: null, db: null, catalog: null, table: null });
  });

  it('gives no database for calls that name none', () => {
    expect(describeCall(call('get_all_databases', () => {})).db).toBeNull();
  });
});
