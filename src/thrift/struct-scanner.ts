/**
 * Finds where an encoded Thrift struct ends without decoding it, resumably: feed it a buffer that
 * grows as bytes arrive and it continues where it stopped. Buffered (unframed) transport has no
 * length prefix, so this is how the router knows a message is complete while passing its bytes on
 * untouched. Each byte is looked at once, however many chunks a large message arrives in.
 */
import { ProtocolError, TType, isKnownType, FIXED_WIDTH } from './protocol';

export interface ScanLimits {
  /** Longest string or binary value accepted. */
  readonly maxStringBytes: number;
  /** Most elements in one list, set or map. */
  readonly maxContainerSize: number;
  /** Deepest nesting of structs and containers. */
  readonly maxDepth: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = {
  maxStringBytes: 256 * 1024 * 1024,
  maxContainerSize: 64 * 1024 * 1024,
  maxDepth: 64,
};

const STRUCT = 0;
const LIST = 1;
const MAP = 2;

// Module-local copies of the type codes and widths: this loop runs once per encoded value, and a
// per-file transpiler (tsx, in tests) turns each read of another module's enum into a getter call.
const T_STOP: number = TType.STOP;
const T_STRING: number = TType.STRING;
const T_I32: number = TType.I32;
const T_I64: number = TType.I64;
const T_STRUCT: number = TType.STRUCT;
const T_LIST: number = TType.LIST;
const T_SET: number = TType.SET;
const T_MAP: number = TType.MAP;
const WIDTH = FIXED_WIDTH;

export class StructScanner {
  private pos = 0;
  private depth = 0;
  // The open containers, innermost last, as parallel arrays (no allocation per element).
  private readonly kind: Uint8Array;
  private readonly remaining: Int32Array;
  private readonly elemType: Uint8Array; // list element type, or map key type
  private readonly valueType: Uint8Array; // map value type
  private readonly expectValue: Uint8Array; // map: 1 when the next item is the value of a pair

  constructor(private readonly limits: ScanLimits = DEFAULT_SCAN_LIMITS) {
    const n = limits.maxDepth + 1;
    this.kind = new Uint8Array(n);
    this.remaining = new Int32Array(n);
    this.elemType = new Uint8Array(n);
    this.valueType = new Uint8Array(n);
    this.expectValue = new Uint8Array(n);
  }

  /** Starts scanning a struct that begins at `offset`. */
  start(offset: number): void {
    this.pos = offset;
    this.depth = 0;
    this.push(STRUCT, 0, 0, 0);
  }

  /** The buffer was compacted: every offset moved by `delta` bytes. */
  rebase(delta: number): void {
    this.pos += delta;
  }

  /** Scanned up to here; also where the struct ended once `advance` returned a non-negative value. */
  get offset(): number {
    return this.pos;
  }

  /**
   * Scans as far as `buf[0..end)` allows. Returns the offset just past the struct when it is
   * complete, or -1 when more bytes are needed. Throws ProtocolError on malformed input.
   */
  advance(buf: Buffer, end: number): number {
    let pos = this.pos;
    try {
      while (this.depth > 0) {
        const d = this.depth - 1;
        const kind = this.kind[d]!;
        if (kind === STRUCT) {
          if (pos >= end) return -1;
          const fieldType = buf[pos]!;
          if (fieldType === T_STOP) {
            pos += 1;
            this.depth -= 1;
            continue;
          }
          if (end - pos < 3) return -1;
          // Fast paths for the fields metadata is made of (strings, integers), inlined: a large
          // listing is millions of them. Anything else, and any value not yet whole, goes the
          // general way.
          const at = pos + 3;
          if (fieldType === T_STRING && end - at >= 4) {
            const length = (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
            if (length >= 0 && length <= this.limits.maxStringBytes && end - at - 4 >= length) {
              pos = at + 4 + length;
              continue;
            }
          } else if (fieldType === T_I32 && end - at >= 4) {
            pos = at + 4;
            continue;
          } else if (fieldType === T_I64 && end - at >= 8) {
            pos = at + 8;
            continue;
          }
          const next = this.consume(buf, at, end, fieldType);
          if (next < 0) return -1;
          pos = next;
        } else if (kind === LIST) {
          const left = this.remaining[d]!;
          if (left === 0) {
            this.depth -= 1;
            continue;
          }
          const type = this.elemType[d]!;
          const width = WIDTH[type]!;
          if (width > 0) {
            // Fixed-size elements: skip every complete one at once.
            const n = Math.min(left, Math.floor((end - pos) / width));
            pos += n * width;
            this.remaining[d] = left - n;
            if (n < left) return -1;
            continue;
          }
          const next = this.consume(buf, pos, end, type);
          if (next < 0) return -1;
          this.remaining[d] = left - 1;
          pos = next;
        } else {
          const isValue = this.expectValue[d] === 1;
          if (!isValue && this.remaining[d] === 0) {
            this.depth -= 1;
            continue;
          }
          const next = this.consume(buf, pos, end, isValue ? this.valueType[d]! : this.elemType[d]!);
          if (next < 0) return -1;
          if (isValue) {
            this.expectValue[d] = 0;
            this.remaining[d] = this.remaining[d]! - 1;
          } else {
            this.expectValue[d] = 1;
          }
          pos = next;
        }
      }
      return pos;
    } finally {
      this.pos = pos;
    }
  }

  /**
   * Consumes one value of `type` starting at `pos`: returns the offset after it (or after its
   * container header, having opened the container), or -1 if the bytes are not all there yet.
   */
  private consume(buf: Buffer, pos: number, end: number, type: number): number {
    const width = WIDTH[type]!;
    if (width > 0) return end - pos >= width ? pos + width : -1;
    switch (type) {
      case T_STRING: {
        if (end - pos < 4) return -1;
        const length = buf.readInt32BE(pos);
        if (length < 0) throw new ProtocolError('negative_size', `negative string length ${length} at offset ${pos}`);
        if (length > this.limits.maxStringBytes) {
          throw new ProtocolError('too_large', `string of ${length} bytes at offset ${pos} exceeds the limit of ${this.limits.maxStringBytes}`);
        }
        return end - pos - 4 >= length ? pos + 4 + length : -1;
      }
      case T_STRUCT:
        this.push(STRUCT, 0, 0, 0);
        return pos;
      case T_LIST:
      case T_SET: {
        if (end - pos < 5) return -1;
        const elem = buf[pos]!;
        const size = this.containerSize(buf.readInt32BE(pos + 1), pos);
        if (size > 0 && !isKnownType(elem)) throw new ProtocolError('bad_type', `unknown list element type ${elem} at offset ${pos}`);
        this.push(LIST, size, elem, 0);
        return pos + 5;
      }
      case T_MAP: {
        if (end - pos < 6) return -1;
        const key = buf[pos]!;
        const value = buf[pos + 1]!;
        const size = this.containerSize(buf.readInt32BE(pos + 2), pos);
        if (size > 0 && (!isKnownType(key) || !isKnownType(value))) {
          throw new ProtocolError('bad_type', `unknown map key/value type ${key}/${value} at offset ${pos}`);
        }
        this.push(MAP, size, key, value);
        return pos + 6;
      }
      default:
        throw new ProtocolError('bad_type', `unknown field type ${type} at offset ${pos - 3}`);
    }
  }

  private containerSize(size: number, pos: number): number {
    if (size < 0) throw new ProtocolError('negative_size', `negative container size ${size} at offset ${pos}`);
    if (size > this.limits.maxContainerSize) {
      throw new ProtocolError('too_large', `container of ${size} elements at offset ${pos} exceeds the limit of ${this.limits.maxContainerSize}`);
    }
    return size;
  }

  private push(kind: number, remaining: number, elemType: number, valueType: number): void {
    const d = this.depth;
    if (d >= this.limits.maxDepth) throw new ProtocolError('too_deep', `nesting deeper than ${this.limits.maxDepth} levels`);
    this.kind[d] = kind;
    this.remaining[d] = remaining;
    this.elemType[d] = elemType;
    this.valueType[d] = valueType;
    this.expectValue[d] = 0;
    this.depth = d + 1;
  }
}
