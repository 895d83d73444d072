/**
 * Decodes any encoded Thrift value into plain data, with no IDL: structs become objects keyed by
 * field id. For what the router originates or inspects whole (batch replies, tests comparing
 * replies), never on the pass-through path.
 */
import { ProtocolError, TType } from './protocol';

export type ThriftValue =
  | boolean
  | number
  | bigint
  | string
  | ThriftStruct
  | ThriftValue[]
  | Array<[ThriftValue, ThriftValue]>;

export interface ThriftStruct {
  [fieldId: number]: ThriftValue;
}

export function decodeStruct(buf: Buffer, pos = 0): { value: ThriftStruct; end: number } {
  const out: ThriftStruct = {};
  let p = pos;
  for (;;) {
    if (p >= buf.length) throw new ProtocolError('truncated', 'struct runs past the end of the message');
    const type = buf[p]!;
    if (type === TType.STOP) return { value: out, end: p + 1 };
    const id = buf.readInt16BE(p + 1);
    const { value, end } = decodeValue(buf, p + 3, type);
    out[id] = value;
    p = end;
  }
}

export function decodeValue(buf: Buffer, pos: number, type: number): { value: ThriftValue; end: number } {
  switch (type) {
    case TType.BOOL: return { value: buf[pos] !== 0, end: pos + 1 };
    case TType.BYTE: return { value: buf.readInt8(pos), end: pos + 1 };
    case TType.I16: return { value: buf.readInt16BE(pos), end: pos + 2 };
    case TType.I32: return { value: buf.readInt32BE(pos), end: pos + 4 };
    case TType.I64: return { value: buf.readBigInt64BE(pos), end: pos + 8 };
    case TType.DOUBLE: return { value: buf.readDoubleBE(pos), end: pos + 8 };
    case TType.STRING: {
      const length = buf.readInt32BE(pos);
      if (length < 0 || pos + 4 + length > buf.length) throw new ProtocolError('truncated', `bad string at offset ${pos}`);
      return { value: buf.toString('utf8', pos + 4, pos + 4 + length), end: pos + 4 + length };
    }
    case TType.STRUCT: return decodeStruct(buf, pos);
    case TType.LIST:
    case TType.SET: {
      const elem = buf[pos]!;
      const size = buf.readInt32BE(pos + 1);
      let p = pos + 5;
      const items: ThriftValue[] = [];
      for (let i = 0; i < size; i++) {
        const { value, end } = decodeValue(buf, p, elem);
        items.push(value);
        p = end;
      }
      return { value: items, end: p };
    }
    case TType.MAP: {
      const keyType = buf[pos]!;
      const valueType = buf[pos + 1]!;
      const size = buf.readInt32BE(pos + 2);
      let p = pos + 6;
      const entries: Array<[ThriftValue, ThriftValue]> = [];
      for (let i = 0; i < size; i++) {
        const k = decodeValue(buf, p, keyType);
        const v = decodeValue(buf, k.end, valueType);
        entries.push([k.value, v.value]);
        p = v.end;
      }
      return { value: entries, end: p };
    }
    default:
      throw new ProtocolError('bad_type', `unknown field type ${type} at offset ${pos}`);
  }
}
