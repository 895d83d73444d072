/**
 * Splits a byte stream into complete Thrift messages, for framed or buffered transport, without
 * decoding more than the message header. The bytes of each message are handed out as they came.
 */
import { MessageHeader, ProtocolError, VERSION_1, parseMessageHeader } from './protocol';
import { DEFAULT_SCAN_LIMITS, ScanLimits, StructScanner } from './struct-scanner';

export type Transport = 'buffered' | 'framed';

export interface RawMessage {
  /** The message exactly as sent, without any frame header. Offsets in `header` refer to it. */
  readonly bytes: Buffer;
  readonly header: MessageHeader;
  /**
   * A call the router makes itself may say how large it expects the reply to be: the connection
   * then reads it into one buffer of about that size instead of growing one chunk by chunk.
   */
  readonly expectedReplyBytes?: number;
}

export interface MessageReaderOptions {
  /** A fixed transport, or 'detect' to decide from the first bytes of the stream (client side). */
  readonly transport: Transport | 'detect';
  /** Largest message (or frame) accepted. */
  readonly maxMessageBytes: number;
  readonly scanLimits?: ScanLimits;
  /**
   * Framed transport: check that each frame holds exactly one whole message (client requests: the
   * router forwards them to metastores that find a message's end by its structure). Replies from a
   * metastore are passed on inside their own frame, so the router does not pay that scan for them.
   */
  readonly checkFrames?: boolean;
}

/**
 * Decides the transport from the first bytes a client sends: a strict binary header starts with
 * 0x80; a frame starts with a positive length followed by a header (0x80 for strict, a zero byte for
 * the high byte of a non-strict name length); anything else positive is a non-strict header whose
 * first word is the name length. Returns null until enough bytes are there.
 */
export function detectTransport(buf: Buffer, start: number, end: number): Transport | null {
  if (end - start < 1) return null;
  if (buf[start] === 0x80) return 'buffered';
  if (end - start < 5) return null;
  const next = buf[start + 4]!;
  if (next === 0x80 || next === 0x00) return 'framed';
  // An old non-strict header: the first word is the name length, then the method name itself.
  if (isNameStart(next)) return 'buffered';
  throw new ProtocolError('bad_version',
    'not TBinaryProtocol: neither a binary message header nor a frame holding one (compact or JSON protocol?)');
}

function isNameStart(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x5f;
}

export class MessageReader {
  private buf: Buffer | null = null;
  /** True when `buf` is ours (its spare capacity may be written); a socket's chunk is not. */
  private owned = false;
  private start = 0;
  private end = 0;
  private transportKind: Transport | null;
  // Buffered transport: the message being scanned.
  private header: MessageHeader | null = null;
  private readonly scanner: StructScanner;

  constructor(private readonly options: MessageReaderOptions) {
    this.transportKind = options.transport === 'detect' ? null : options.transport;
    this.scanner = new StructScanner(options.scanLimits ?? DEFAULT_SCAN_LIMITS);
  }

  get transport(): Transport | null {
    return this.transportKind;
  }

  /**
   * The next message is expected to be about `bytes` long: when nothing is pending, read it into a
   * buffer of that size (one allocation, no copies as it grows, and a buffer the message fills).
   */
  reserve(bytes: number): void {
    if (this.buf !== null || bytes <= 64 * 1024) return;
    this.buf = Buffer.allocUnsafeSlow(bytes);
    this.owned = true;
    this.start = this.end = 0;
  }

  /** Bytes received that do not yet form a complete message. */
  get pendingBytes(): number {
    return this.end - this.start;
  }

  /** Adds a chunk; returns every message it completed, in order. Throws ProtocolError. */
  push(chunk: Buffer): RawMessage[] {
    this.append(chunk);
    const messages: RawMessage[] = [];
    for (;;) {
      const message = this.transportKind === 'framed' ? this.nextFramed() : this.nextBuffered();
      if (message === null) break;
      messages.push(message);
    }
    if (this.start === this.end) {
      this.buf = null;
      this.owned = false;
      this.start = this.end = 0;
    }
    return messages;
  }

  private append(chunk: Buffer): void {
    if (this.buf === null) {
      this.buf = chunk;
      this.owned = false;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    // Grow into a new buffer; messages already handed out keep pointing at the old one.
    const pending = this.end - this.start;
    const grown = Buffer.allocUnsafe(Math.max(64 * 1024, 2 * (pending + chunk.length)));
    this.buf.copy(grown, 0, this.start, this.end);
    chunk.copy(grown, pending);
    this.scanner.rebase(-this.start);
    this.buf = grown;
    this.owned = true;
    this.start = 0;
    this.end = pending + chunk.length;
  }

  private nextFramed(): RawMessage | null {
    const buf = this.buf;
    if (buf === null || this.end - this.start < 4) return null;
    const size = buf.readInt32BE(this.start);
    if (size <= 0) throw new ProtocolError('bad_header', `invalid frame size ${size}`);
    if (size > this.options.maxMessageBytes) {
      throw new ProtocolError('too_large', `frame of ${size} bytes exceeds the limit of ${this.options.maxMessageBytes} bytes`);
    }
    if (this.end - this.start - 4 < size) return null;
    const bytes = buf.subarray(this.start + 4, this.start + 4 + size);
    const header = parseMessageHeader(bytes, 0, bytes.length);
    if (header === null) throw new ProtocolError('truncated', `frame of ${size} bytes ends inside the message header`);
    // The frame must hold exactly one whole message. The metastore finds a message's end by its
    // structure: bytes left after the struct would be read there as a further call (one the router
    // never saw, routed or checked, whose reply then answers someone else's call).
    if (this.options.checkFrames !== false) {
      this.scanner.start(header.bodyOffset);
      const messageEnd = this.scanner.advance(bytes, bytes.length);
      if (messageEnd < 0) throw new ProtocolError('truncated', `frame of ${size} bytes ends inside its message`);
      if (messageEnd !== bytes.length) {
        throw new ProtocolError('bad_header', `frame of ${size} bytes holds ${bytes.length - messageEnd} bytes after its message`);
      }
    }
    this.start += 4 + size;
    return { bytes, header };
  }

  private nextBuffered(): RawMessage | null {
    const buf = this.buf;
    if (buf === null) return null;
    if (this.transportKind === null) {
      this.transportKind = detectTransport(buf, this.start, this.end);
      if (this.transportKind === null) return null;
      if (this.transportKind === 'framed') return this.nextFramed();
    }
    if (this.header === null) {
      const header = parseMessageHeader(buf, this.start, this.end);
      if (header === null) return null;
      // Offsets relative to the message start survive the buffer growing under them.
      this.header = { ...header, seqidOffset: header.seqidOffset - this.start, bodyOffset: header.bodyOffset - this.start };
      this.scanner.start(header.bodyOffset);
    }
    const messageEnd = this.scanner.advance(buf, this.end);
    if (messageEnd < 0) {
      // Bytes held, not bytes scanned: the scanner waits for a long string to arrive whole.
      if (this.end - this.start > this.options.maxMessageBytes) {
        throw new ProtocolError('too_large', `message exceeds the limit of ${this.options.maxMessageBytes} bytes`);
      }
      return null;
    }
    if (messageEnd - this.start > this.options.maxMessageBytes) {
      throw new ProtocolError('too_large', `message of ${messageEnd - this.start} bytes exceeds the limit of ${this.options.maxMessageBytes} bytes`);
    }
    const header = this.header;
    const bytes = buf.subarray(this.start, messageEnd);
    this.header = null;
    this.start = messageEnd;
    return { bytes, header };
  }
}

/**
 * Rewrites an old non-strict message into the strict (versioned) form, body untouched: metastores
 * read strictly and refuse the old header ("Missing version in readMessageBegin").
 */
export function toStrictMessage(message: RawMessage): RawMessage {
  if (message.header.strict) return message;
  const { name, type, seqid, bodyOffset } = message.header;
  const nameBytes = Buffer.from(name, 'latin1');
  const headerLength = 4 + 4 + nameBytes.length + 4;
  const bytes = Buffer.allocUnsafe(headerLength + message.bytes.length - bodyOffset);
  bytes.writeInt32BE(VERSION_1 | type, 0);
  bytes.writeInt32BE(nameBytes.length, 4);
  nameBytes.copy(bytes, 8);
  bytes.writeInt32BE(seqid, 8 + nameBytes.length);
  message.bytes.copy(bytes, headerLength, bodyOffset);
  return { bytes, header: { name, type, seqid, seqidOffset: headerLength - 4, bodyOffset: headerLength, strict: true } };
}
