/**
 * Reads encoded values in place: skip a value, find the strings at a field path. Used on complete
 * messages only (the message reader guarantees the bytes are all there); any overrun is a malformed
 * message and throws ProtocolError.
 */
import { ProtocolError, TType, FIXED_WIDTH } from './protocol';
import type { FieldPath } from '../hms/method-entry';

const MAX_DEPTH = 64;

// Module-local copies (see struct-scanner.ts): skipValue runs once per encoded value.
const T_STOP: number = TType.STOP;
const T_STRING: number = TType.STRING;
const T_STRUCT: number = TType.STRUCT;
const T_LIST: number = TType.LIST;
const T_SET: number = TType.SET;
const T_MAP: number = TType.MAP;
const WIDTH = FIXED_WIDTH;

function need(buf: Buffer, pos: number, n: number): void {
  if (pos + n > buf.length) throw new ProtocolError('truncated', `message ends at byte ${buf.length} inside a value at offset ${pos}`);
}

/** Returns the offset just past the value of `type` that starts at `pos`. */
export function skipValue(buf: Buffer, pos: number, type: number, depth = 0): number {
  if (depth > MAX_DEPTH) throw new ProtocolError('too_deep', `nesting deeper than ${MAX_DEPTH} levels`);
  const width = WIDTH[type]!;
  if (width > 0) {
    need(buf, pos, width);
    return pos + width;
  }
  switch (type) {
    case T_STRING: {
      need(buf, pos, 4);
      const length = buf.readInt32BE(pos);
      if (length < 0) throw new ProtocolError('negative_size', `negative string length at offset ${pos}`);
      need(buf, pos + 4, length);
      return pos + 4 + length;
    }
    case T_STRUCT:
      return skipStruct(buf, pos, depth + 1);
    case T_LIST:
    case T_SET: {
      need(buf, pos, 5);
      const elem = buf[pos]!;
      const size = buf.readInt32BE(pos + 1);
      if (size < 0) throw new ProtocolError('negative_size', `negative list size at offset ${pos}`);
      let p = pos + 5;
      const elemWidth = WIDTH[elem]!;
      if (elemWidth > 0) {
        need(buf, p, size * elemWidth);
        return p + size * elemWidth;
      }
      for (let i = 0; i < size; i++) p = skipValue(buf, p, elem, depth + 1);
      return p;
    }
    case T_MAP: {
      need(buf, pos, 6);
      const key = buf[pos]!;
      const value = buf[pos + 1]!;
      const size = buf.readInt32BE(pos + 2);
      if (size < 0) throw new ProtocolError('negative_size', `negative map size at offset ${pos}`);
      let p = pos + 6;
      for (let i = 0; i < size; i++) {
        p = skipValue(buf, p, key, depth + 1);
        p = skipValue(buf, p, value, depth + 1);
      }
      return p;
    }
    default:
      throw new ProtocolError('bad_type', `unknown field type ${type} at offset ${pos}`);
  }
}

/** Returns the offset just past the struct that starts at `pos` (its STOP byte included). */
export function skipStruct(buf: Buffer, pos: number, depth = 0): number {
  let p = pos;
  for (;;) {
    need(buf, p, 1);
    const type = buf[p]!;
    if (type === T_STOP) return p + 1;
    need(buf, p, 3);
    p = skipValue(buf, p + 3, type, depth);
  }
}

/**
 * Finds the field `id` of the struct at `pos`: returns the offset of its value and its type, or
 * null when the struct has no such field.
 */
export function findField(buf: Buffer, pos: number, id: number): { offset: number; type: number } | null {
  let p = pos;
  for (;;) {
    need(buf, p, 1);
    const type = buf[p]!;
    if (type === T_STOP) return null;
    need(buf, p, 3);
    if (buf.readInt16BE(p + 1) === id) return { offset: p + 3, type };
    p = skipValue(buf, p + 3, type);
  }
}

/** Reads the string value at `pos` (its 4-byte length first). */
export function readString(buf: Buffer, pos: number): string {
  need(buf, pos, 4);
  const length = buf.readInt32BE(pos);
  if (length < 0) throw new ProtocolError('negative_size', `negative string length at offset ${pos}`);
  need(buf, pos + 4, length);
  return buf.toString('utf8', pos + 4, pos + 4 + length);
}

/**
 * Every string found at `path` inside the struct at `pos`, in order. Only the fields on the path are
 * looked at; everything else is skipped unread. A field that is absent (or of an unexpected type)
 * contributes nothing.
 */
export function stringsAtPath(buf: Buffer, pos: number, path: FieldPath, limit = Number.MAX_SAFE_INTEGER): string[] {
  const found: string[] = [];
  collect(buf, pos, T_STRUCT, path, 0, found, limit);
  return found;
}

function collect(buf: Buffer, pos: number, type: number, path: FieldPath, step: number, found: string[], limit: number): void {
  if (step === path.length) {
    if (type === T_STRING && found.length < limit) found.push(readString(buf, pos));
    return;
  }
  const key = path[step]!;
  if (key === '*') {
    if (type !== T_LIST && type !== T_SET) return;
    need(buf, pos, 5);
    const elem = buf[pos]!;
    const size = buf.readInt32BE(pos + 1);
    let p = pos + 5;
    for (let i = 0; i < size && found.length < limit; i++) {
      collect(buf, p, elem, path, step + 1, found, limit);
      if (i + 1 < size) p = skipValue(buf, p, elem);
    }
    return;
  }
  if (type !== T_STRUCT) return;
  const field = findField(buf, pos, key);
  if (field !== null) collect(buf, field.offset, field.type, path, step + 1, found, limit);
}

/** The first string at `path`, or undefined. */
export function firstStringAtPath(buf: Buffer, pos: number, path: FieldPath): string | undefined {
  return stringsAtPath(buf, pos, path, 1)[0];
}
