/**
 * The errors the router answers with must be read by a stock Thrift client as it reads a
 * metastore's own: decoded here with the npm `thrift` package's TBinaryProtocol.
 */
import { describe, it, expect } from 'vitest';
import { TFramedTransport, TBufferedTransport, Thrift } from 'thrift';
import { AppErrorType, applicationExceptionReply, metaExceptionReply } from '../../src/thrift/error-replies';
import { frame } from '../../src/thrift/binary-writer';
import { MessageReader } from '../../src/thrift/message-reader';
import { EXCEPTION, REPLY, T, refReader } from './thrift-reference';

const MESSAGES = [
  '',
  'Invalid method name: \'get_tabel\'',
  'metastore "warehouse-eu" is unavailable: connect ECONNREFUSED 10.0.0.7:9083',
  'Datenbank »prod« nicht erreichbar — 数据库不可用 😀',
  'x'.repeat(70_000),
];
const SEQIDS = [0, 1, -1, 2147483647, -2147483648, 123456];
const TYPES: AppErrorType[] = [
  AppErrorType.UNKNOWN,
  AppErrorType.UNKNOWN_METHOD,
  AppErrorType.INVALID_MESSAGE_TYPE,
  AppErrorType.WRONG_METHOD_NAME,
  AppErrorType.BAD_SEQUENCE_ID,
  AppErrorType.MISSING_RESULT,
  AppErrorType.INTERNAL_ERROR,
  AppErrorType.PROTOCOL_ERROR,
];

/** Reads a TApplicationException reply the way a generated client's recv_* does. */
function readApplicationException(buf: Buffer): { name: string; mtype: number; seqid: number; type: number; message: string; consumed: number } {
  const { p, pos } = refReader(buf);
  const header = p.readMessageBegin();
  const x = new Thrift.TApplicationException();
  x.read(p as unknown as Parameters<typeof x.read>[0]);
  // The JS implementation keeps the code in `type` (the typings call it `code`).
  const type = (x as unknown as { type: number }).type;
  return {
    name: String(header.fname),
    mtype: header.mtype,
    seqid: header.rseqid,
    type,
    message: x.message,
    consumed: pos(),
  };
}

/** Reads a result struct carrying MetaException{1: message} in field `fieldId`, as a generated client does. */
function readMetaExceptionResult(buf: Buffer, fieldId: number): { name: string; mtype: number; seqid: number; message: string | undefined; consumed: number } {
  const { p, pos } = refReader(buf);
  const header = p.readMessageBegin();
  let message: string | undefined;
  p.readStructBegin();
  for (;;) {
    const f = p.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === fieldId && f.ftype === T.STRUCT) {
      p.readStructBegin();
      for (;;) {
        const g = p.readFieldBegin();
        if (g.ftype === T.STOP) break;
        if (g.fid === 1 && g.ftype === T.STRING) message = p.readString();
        else p.skip(g.ftype);
        p.readFieldEnd();
      }
      p.readStructEnd();
    } else {
      p.skip(f.ftype);
    }
    p.readFieldEnd();
  }
  p.readStructEnd();
  return { name: String(header.fname), mtype: header.mtype, seqid: header.rseqid, message, consumed: pos() };
}

describe('applicationExceptionReply', () => {
  it('is an EXCEPTION message a Thrift client decodes into the same method, seqid, type and text', () => {
    for (const message of MESSAGES) {
      for (const seqid of SEQIDS) {
        for (const type of TYPES) {
          const buf = applicationExceptionReply('get_table', seqid, type, message);
          const got = readApplicationException(buf);
          expect(got.mtype).toBe(EXCEPTION);
          expect(got.name).toBe('get_table');
          expect(got.seqid).toBe(seqid);
          expect(got.type).toBe(type);
          expect(got.message).toBe(message);
          expect(got.consumed).toBe(buf.length);
        }
      }
    }
  });

  it('keeps the type codes Thrift defines', () => {
    expect(AppErrorType.UNKNOWN_METHOD).toBe(Thrift.TApplicationExceptionType.UNKNOWN_METHOD);
    expect(AppErrorType.BAD_SEQUENCE_ID).toBe(Thrift.TApplicationExceptionType.BAD_SEQUENCE_ID);
    expect(AppErrorType.INTERNAL_ERROR).toBe(Thrift.TApplicationExceptionType.INTERNAL_ERROR);
    expect(AppErrorType.PROTOCOL_ERROR).toBe(Thrift.TApplicationExceptionType.PROTOCOL_ERROR);
  });

  it('echoes any method name', () => {
    for (const name of ['', 'getName', 'get_partitions_by_names', 'no_such_method_' + 'z'.repeat(200)]) {
      const got = readApplicationException(applicationExceptionReply(name, 9, AppErrorType.UNKNOWN_METHOD, 'nope'));
      expect(got.name).toBe(name);
      expect(got.seqid).toBe(9);
    }
  });

  it('is one whole message for the router\'s own reader, buffered and framed', () => {
    const buf = applicationExceptionReply('get_table', 5, AppErrorType.INTERNAL_ERROR, 'backend closed');
    const buffered = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 20 }).push(buf);
    expect(buffered).toHaveLength(1);
    expect(buffered[0]!.bytes.equals(buf)).toBe(true);
    expect(buffered[0]!.header.type).toBe(EXCEPTION);
    const framedMsgs = new MessageReader({ transport: 'framed', maxMessageBytes: 1 << 20 }).push(frame(buf));
    expect(framedMsgs).toHaveLength(1);
    expect(framedMsgs[0]!.bytes.equals(buf)).toBe(true);
  });

  it('arrives through the thrift package\'s own framed and buffered receivers', () => {
    const buf = applicationExceptionReply('get_table', 77, AppErrorType.UNKNOWN_METHOD, 'Invalid method name');
    const seen: string[] = [];
    const onFramed = TFramedTransport.receiver((trans) => {
      const got = readApplicationException((trans as unknown as { inBuf: Buffer }).inBuf);
      seen.push(`framed ${got.seqid} ${got.type} ${got.message}`);
    }, 0);
    const framed = frame(buf);
    onFramed(framed.subarray(0, 3));
    onFramed(framed.subarray(3));
    const onBuffered = TBufferedTransport.receiver((trans) => {
      const { buf: inBuf, readIndex, writeIndex } = (trans as unknown as { borrow(): { buf: Buffer; readIndex: number; writeIndex: number } }).borrow();
      const got = readApplicationException(inBuf.subarray(readIndex, writeIndex));
      seen.push(`buffered ${got.seqid} ${got.type} ${got.message}`);
    }, 0);
    onBuffered(buf);
    expect(seen).toEqual(['framed 77 1 Invalid method name', 'buffered 77 1 Invalid method name']);
  });
});

describe('metaExceptionReply', () => {
  it('is a REPLY whose result struct carries MetaException{1: message} in the given field', () => {
    for (const message of MESSAGES) {
      for (const seqid of SEQIDS) {
        for (const fieldId of [1, 2, 3, 4]) {
          const buf = metaExceptionReply('create_table', seqid, fieldId, message);
          const got = readMetaExceptionResult(buf, fieldId);
          expect(got.mtype).toBe(REPLY);
          expect(got.name).toBe('create_table');
          expect(got.seqid).toBe(seqid);
          expect(got.message).toBe(message);
          expect(got.consumed).toBe(buf.length);
        }
      }
    }
  });

  it('sets no other result field (so the client raises the exception, not a success)', () => {
    const buf = metaExceptionReply('get_database', 3, 1, 'no such metastore');
    const { p } = refReader(buf);
    p.readMessageBegin();
    p.readStructBegin();
    const first = p.readFieldBegin();
    expect(first).toMatchObject({ ftype: T.STRUCT, fid: 1 });
    p.skip(first.ftype);
    expect(p.readFieldBegin().ftype).toBe(T.STOP);
    // Field 0 (the success value) is absent: a client reading field 2 finds nothing.
    expect(readMetaExceptionResult(buf, 0).message).toBeUndefined();
    expect(readMetaExceptionResult(buf, 2).message).toBeUndefined();
  });

  it('is one whole message for the router\'s own reader', () => {
    const buf = metaExceptionReply('get_table', -5, 1, 'Database does not exist: nope');
    const got = new MessageReader({ transport: 'detect', maxMessageBytes: 1 << 20 }).push(buf);
    expect(got).toHaveLength(1);
    expect(got[0]!.bytes.equals(buf)).toBe(true);
    expect(got[0]!.header).toMatchObject({ name: 'get_table', type: REPLY, seqid: -5 });
  });
});
