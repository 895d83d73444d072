import { describe, it, expect } from 'vitest';
import { TBufferedTransport, TCompactProtocol } from 'thrift';
import { MessageReader, RawMessage, Transport, detectTransport } from '../../src/thrift/message-reader';
import { BinaryWriter } from '../../src/thrift/binary-writer';
import { ProtocolError, ProtocolErrorReason } from '../../src/thrift/protocol';
import { DEFAULT_SCAN_LIMITS } from '../../src/thrift/struct-scanner';
import {
  CALL,
  EXCEPTION,
  MessageSpec,
  ONEWAY,
  REPLY,
  Rng,
  StructValue,
  T,
  Value,
  everyTypeStruct,
  i32,
  list,
  randomChunks,
  randomStruct,
  refEncode,
  refParseHeader,
  refParseMessage,
  str,
  struct,
  protocolError,
  expectReason,
} from './thrift-reference';

type Mode = Transport | 'detect';
const MODES: readonly Mode[] = ['buffered', 'framed', 'detect'];
const MAX = 64 * 1024 * 1024;

function reader(transport: Mode, maxMessageBytes = MAX, scanLimits = DEFAULT_SCAN_LIMITS): MessageReader {
  return new MessageReader({ transport, maxMessageBytes, scanLimits });
}


function pushAll(r: MessageReader, chunks: readonly Buffer[]): RawMessage[] {
  const out: RawMessage[] = [];
  for (const c of chunks) out.push(...r.push(c));
  return out;
}

/** Encodes for the transport the reader is set to (for 'detect', `framedIfDetect` chooses). */
function encodeFor(mode: Mode, spec: MessageSpec, framedIfDetect = false): { wire: Buffer; message: Buffer } {
  const framed = mode === 'framed' || (mode === 'detect' && framedIfDetect);
  const wire = refEncode(spec, framed);
  return { wire, message: framed ? wire.subarray(4) : wire };
}

/** Asserts one message the reader handed out against what was encoded. */
function checkMessage(m: RawMessage | undefined, expected: Buffer, spec: MessageSpec): void {
  expect(m).toBeDefined();
  const msg = m!;
  expect(msg.bytes.equals(expected)).toBe(true);
  expect(msg.header.name).toBe(spec.name);
  expect(msg.header.type).toBe(spec.type);
  expect(msg.header.seqid).toBe(spec.seqid);
  expect(msg.header.strict).toBe(spec.strict ?? true);
  expect(msg.bytes.readInt32BE(msg.header.seqidOffset)).toBe(spec.seqid);
  // Where the reference implementation finds the body.
  const ref = refParseMessage(expected);
  expect(msg.header.bodyOffset).toBe(ref.bodyOffset);
  expect(ref.end).toBe(expected.length);
}

const SIMPLE: MessageSpec = { name: 'get_table', type: CALL, seqid: 42, body: everyTypeStruct() };

describe('MessageReader: messages encoded by the thrift package', () => {
  for (const mode of MODES) {
    for (const strict of [true, false]) {
      for (const framedIfDetect of mode === 'detect' ? [false, true] : [false]) {
        const label = `${mode}${mode === 'detect' ? (framedIfDetect ? ' (framed stream)' : ' (buffered stream)') : ''}, ${strict ? 'strict' : 'non-strict'} header`;
        describe(label, () => {
          const spec: MessageSpec = { ...SIMPLE, strict };
          const { wire, message } = encodeFor(mode, spec, framedIfDetect);

          it('reads a struct with every type from one chunk', () => {
            const r = reader(mode);
            const got = r.push(Buffer.from(wire));
            expect(got).toHaveLength(1);
            checkMessage(got[0], message, spec);
            expect(r.pendingBytes).toBe(0);
          });

          it('reads it whatever byte it is split at', () => {
            for (let i = 1; i < wire.length; i++) {
              const r = reader(mode);
              expect(r.push(Buffer.from(wire.subarray(0, i)))).toEqual([]);
              expect(r.pendingBytes).toBe(i);
              const got = r.push(Buffer.from(wire.subarray(i)));
              expect(got).toHaveLength(1);
              checkMessage(got[0], message, spec);
              expect(r.pendingBytes).toBe(0);
            }
          });

          it('reads it one byte at a time', () => {
            const r = reader(mode);
            const got: RawMessage[] = [];
            for (let i = 0; i < wire.length; i++) {
              const out = r.push(Buffer.from([wire[i]!]));
              if (i < wire.length - 1) expect(out).toEqual([]);
              got.push(...out);
            }
            expect(got).toHaveLength(1);
            checkMessage(got[0], message, spec);
            expect(r.pendingBytes).toBe(0);
          });

          it('reads several messages back to back in one chunk, then a partial one', () => {
            const specs: MessageSpec[] = [
              { name: 'get_database', type: CALL, seqid: 0, body: struct([1, str('db')]), strict },
              { name: 'get_database', type: REPLY, seqid: -1, body: struct(), strict },
              { name: 'x', type: EXCEPTION, seqid: 2147483647, body: struct([1, str('boom')], [2, i32(6)]), strict },
              { name: 'shutdown', type: ONEWAY, seqid: -2147483648, body: struct(), strict },
              { ...SIMPLE, strict },
            ];
            const encoded = specs.map((s) => encodeFor(mode, s, framedIfDetect));
            const tail = encodeFor(mode, { name: 'get_all_databases', type: CALL, seqid: 9, body: struct(), strict }, framedIfDetect);
            const cut = tail.wire.length - 1;
            const r = reader(mode);
            const got = r.push(Buffer.concat([...encoded.map((e) => e.wire), tail.wire.subarray(0, cut)]));
            expect(got).toHaveLength(specs.length);
            specs.forEach((s, i) => checkMessage(got[i], encoded[i]!.message, s));
            expect(r.pendingBytes).toBe(cut);
            const last = r.push(Buffer.from(tail.wire.subarray(cut)));
            expect(last).toHaveLength(1);
            checkMessage(last[0], tail.message, { name: 'get_all_databases', type: CALL, seqid: 9, body: struct(), strict });
            expect(r.pendingBytes).toBe(0);
            // The messages handed out first are untouched by what came later.
            specs.forEach((s, i) => checkMessage(got[i], encoded[i]!.message, s));
          });
        });
      }
    }
  }

  it('reads an empty argument struct and an empty method name', () => {
    for (const mode of ['buffered', 'framed'] as const) {
      for (const strict of [true, false]) {
        const spec: MessageSpec = { name: '', type: CALL, seqid: 1, body: struct(), strict };
        const { wire, message } = encodeFor(mode, spec);
        const r = reader(mode);
        const got = r.push(wire);
        expect(got).toHaveLength(1);
        checkMessage(got[0], message, spec);
      }
    }
  });
});

describe('MessageReader: random messages in random chunks (property)', () => {
  const CASES = 300;
  const NAMES = ['get_table', 'get_partitions_by_names', 'a', 'set_ugi', 'getStatus', 'create_table_with_environment_context'];

  for (const mode of MODES) {
    it(`${mode}: yields exactly the messages sent, in order, byte for byte`, () => {
      for (let c = 0; c < CASES; c++) {
        const rng = new Rng(0x5eed + c * 7919 + MODES.indexOf(mode) * 1_000_003);
        const framedIfDetect = rng.chance(0.5);
        const specs: MessageSpec[] = [];
        const count = rng.int(1, 5);
        for (let i = 0; i < count; i++) {
          specs.push({
            name: rng.pick(NAMES),
            type: rng.int(1, 4),
            seqid: rng.int(-2147483648, 2147483647),
            strict: rng.chance(0.75),
            body: randomStruct(rng, rng.int(0, 5)),
          });
        }
        const encoded = specs.map((s) => encodeFor(mode, s, framedIfDetect));
        const stream = Buffer.concat(encoded.map((e) => e.wire));
        const maxChunk = rng.pick([1, 3, 16, 256, stream.length]);
        const r = reader(mode);
        let got: RawMessage[];
        try {
          got = pushAll(r, randomChunks(rng, stream, maxChunk));
        } catch (e) {
          throw new Error(`case ${c} (${mode}, max chunk ${maxChunk}): ${String(e)}\nstream ${stream.toString('hex')}`);
        }
        expect(got.length, `case ${c}`).toBe(specs.length);
        specs.forEach((s, i) => checkMessage(got[i], encoded[i]!.message, s));
        expect(r.pendingBytes, `case ${c}`).toBe(0);
        if (mode === 'detect') expect(r.transport).toBe(framedIfDetect ? 'framed' : 'buffered');
      }
    });
  }
});

describe('transport detection', () => {
  const body = struct([1, str('default')], [2, list(T.STRING, [str('t1')])]);
  const cases: { label: string; strict: boolean; framed: boolean; expected: Transport }[] = [
    { label: 'strict buffered', strict: true, framed: false, expected: 'buffered' },
    { label: 'framed strict', strict: true, framed: true, expected: 'framed' },
    { label: 'non-strict buffered', strict: false, framed: false, expected: 'buffered' },
    { label: 'framed non-strict', strict: false, framed: true, expected: 'framed' },
  ];

  for (const c of cases) {
    it(`recognises ${c.label}`, () => {
      const spec: MessageSpec = { name: 'get_tables', type: CALL, seqid: 5, body, strict: c.strict };
      const wire = refEncode(spec, c.framed);
      expect(detectTransport(wire, 0, wire.length)).toBe(c.expected);
      // At an offset inside a larger buffer, too.
      const padded = Buffer.concat([Buffer.from([9, 9, 9]), wire]);
      expect(detectTransport(padded, 3, padded.length)).toBe(c.expected);

      // Byte by byte: no guess before enough bytes are there, then the right transport.
      const r = reader('detect');
      expect(r.transport).toBeNull();
      const got: RawMessage[] = [];
      for (let i = 0; i < wire.length; i++) {
        got.push(...r.push(Buffer.from([wire[i]!])));
        if (i === 0 && c.strict && !c.framed) expect(r.transport).toBe('buffered');
      }
      expect(r.transport).toBe(c.expected);
      expect(got).toHaveLength(1);
      checkMessage(got[0], c.framed ? wire.subarray(4) : wire, spec);
      expect(r.pendingBytes).toBe(0);
    });
  }

  it('waits for enough bytes before deciding', () => {
    expect(detectTransport(Buffer.alloc(0), 0, 0)).toBeNull();
    expect(detectTransport(Buffer.from([0x80]), 0, 1)).toBe('buffered');
    expect(detectTransport(Buffer.from([0, 0, 0, 20]), 0, 4)).toBeNull();
    expect(detectTransport(Buffer.from([0, 0, 0, 20, 0x80]), 0, 5)).toBe('framed');
    expect(detectTransport(Buffer.from([0, 0, 0, 20, 0x00]), 0, 5)).toBe('framed');
    expect(detectTransport(Buffer.from([0, 0, 0, 3, 0x66]), 0, 5)).toBe('buffered');
  });

  it('keeps the detected transport for the following messages', () => {
    const specs: MessageSpec[] = [1, 2, 3].map((seqid) => ({ name: 'get_tables', type: CALL, seqid, body }));
    const r = reader('detect');
    const got = pushAll(r, specs.map((s) => refEncode(s, true)));
    expect(r.transport).toBe('framed');
    expect(got.map((m) => m.header.seqid)).toEqual([1, 2, 3]);
  });
});

// ---------------------------------------------------------------------------------------------

/** A strict CALL header (reference-encoded) with the argument struct left open for raw bytes. */
function headerOnly(name = 'get_table', strict = true): Buffer {
  const m = refEncode({ name, type: CALL, seqid: 3, body: struct(), strict });
  return m.subarray(0, m.length - 1); // drop the STOP of the empty struct
}

function i32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function framed(message: Buffer): Buffer {
  return Buffer.concat([i32be(message.length), message]);
}

/** A struct nested `levels` deep, counting the outermost one. */
function nestedStructs(levels: number): StructValue {
  let s: StructValue = struct([1, str('leaf')]);
  for (let i = 1; i < levels; i++) s = struct([1, s]);
  return s;
}

/** A message whose body is a struct holding lists nested `levels` deep (so levels + 1 in all). */
function nestedLists(levels: number): StructValue {
  let v: Value = list(T.I32, [i32(1)]);
  for (let i = 1; i < levels; i++) v = list(T.LIST, [v]);
  return struct([1, v]);
}

describe('MessageReader: bad input', () => {
  it('refuses a compact-protocol client (bad_version)', () => {
    const out: Buffer[] = [];
    const trans = new TBufferedTransport(undefined, (m?: Buffer) => {
      if (m) out.push(m);
    });
    const p = new TCompactProtocol(trans) as unknown as {
      writeMessageBegin(n: string, t: number, s: number): void;
      writeStructBegin(n: string): void;
      writeFieldStop(): void;
      writeStructEnd(): void;
      writeMessageEnd(): void;
      flush(): void;
    };
    p.writeMessageBegin('get_table', CALL, 1);
    p.writeStructBegin('');
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
    p.flush();
    const compact = Buffer.concat(out);
    expect(compact[0]).toBe(0x82);
    expectReason(() => reader('buffered').push(compact), 'bad_version');
    expectReason(() => reader('detect').push(compact), 'bad_version');
    expectReason(() => reader('framed').push(framed(compact)), 'bad_version');
  });

  it('refuses a framed compact-protocol client when detecting the transport (bad_version)', () => {
    // 00 00 00 0e | 82 21 01 09 "get_table" 00: a whole call; the client sends nothing more and waits
    // for the reply, so the reader must refuse it now rather than wait for more bytes.
    const compact = Buffer.from('822101096765745f7461626c6500', 'hex');
    const r = reader('detect');
    expectReason(() => r.push(framed(compact)), 'bad_version');
  });

  it('refuses another binary protocol version (bad_version)', () => {
    const m = refEncode(SIMPLE);
    const v2 = Buffer.from(m);
    v2.writeUInt16BE(0x8002, 0);
    expectReason(() => reader('buffered').push(v2), 'bad_version');
    expectReason(() => reader('detect').push(v2), 'bad_version');
    expectReason(() => reader('framed').push(framed(v2)), 'bad_version');
  });

  it('refuses an HTTP request', () => {
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: metastore:9083\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n');
    const post = Buffer.from('POST /thrift HTTP/1.1\r\nContent-Type: application/x-thrift\r\nContent-Length: 10\r\n\r\n');
    for (const req of [http, post]) {
      protocolError(() => reader('buffered').push(req));
      protocolError(() => reader('detect').push(req));
      // Framed: the first word reads as a huge frame size.
      protocolError(() => reader('framed', 256 * 1024 * 1024).push(req));
      // Arriving in small pieces makes no difference.
      protocolError(() => pushAll(reader('detect'), randomChunks(new Rng(1), req, 3)));
    }
  });

  it('refuses a JSON-protocol client', () => {
    const json = Buffer.from('[1,"get_table",1,0,{}]');
    protocolError(() => reader('buffered').push(json));
    protocolError(() => reader('detect').push(json));
  });

  it('refuses a frame over maxMessageBytes as soon as its length is known (too_large)', () => {
    const m = refEncode(SIMPLE, true);
    const size = m.length - 4;
    // The whole frame fits exactly at the limit...
    expect(reader('framed', size).push(m)).toHaveLength(1);
    // ...one byte less is refused from the frame length alone.
    const r = reader('framed', size - 1);
    expectReason(() => r.push(m.subarray(0, 4)), 'too_large');
    const d = reader('detect', size - 1);
    expectReason(() => d.push(m.subarray(0, 6)), 'too_large');
    // A frame claiming 1 GiB is refused without waiting for it.
    expectReason(() => reader('framed', 1024 * 1024).push(Buffer.concat([i32be(1 << 30), headerOnly()])), 'too_large');
  });

  it('refuses a frame whose length is zero or negative (bad_header)', () => {
    expectReason(() => reader('framed').push(i32be(0)), 'bad_header');
    expectReason(() => reader('framed').push(i32be(-5)), 'bad_header');
  });

  it('refuses a frame that ends inside the message header (truncated)', () => {
    const h = refEncode(SIMPLE).subarray(0, 10);
    expectReason(() => reader('framed').push(framed(h)), 'truncated');
  });

  it('refuses a buffered message over maxMessageBytes (too_large)', () => {
    const m = refEncode(SIMPLE);
    expect(reader('buffered', m.length).push(m)).toHaveLength(1);
    expectReason(() => reader('buffered', m.length - 1).push(m), 'too_large');
    expectReason(() => reader('detect', m.length - 1).push(m), 'too_large');
  });

  it('refuses a long buffered message of many strings before all of it has arrived', () => {
    const items: Value[] = [];
    for (let i = 0; i < 5000; i++) items.push(str(`partition_value_${i}`));
    const m = refEncode({ name: 'add_partitions', type: CALL, seqid: 1, body: struct([1, list(T.STRING, items)]) });
    const limit = 4096;
    const r = reader('buffered', limit);
    const chunks = randomChunks(new Rng(2), m, 1024);
    let pushed = 0;
    const e = protocolError(() => {
      for (const c of chunks) {
        r.push(c);
        pushed += c.length;
      }
    });
    expect(e.reason).toBe('too_large');
    expect(pushed).toBeLessThan(limit + 2 * 1024);
  });

  it('refuses a buffered message with one string larger than maxMessageBytes before all of it has arrived', () => {
    // maxMessageBytes bounds what one connection may make the router hold in memory.
    const big = 'x'.repeat(1024 * 1024);
    const m = refEncode({ name: 'create_table', type: CALL, seqid: 1, body: struct([1, str(big)]) });
    const limit = 64 * 1024;
    const chunkSize = 16 * 1024;
    for (const mode of ['buffered', 'detect'] as const) {
      const r = reader(mode, limit);
      let pushed = 0;
      let error: unknown = null;
      try {
        for (let pos = 0; pos < m.length; pos += chunkSize) {
          r.push(m.subarray(pos, pos + chunkSize));
          pushed += Math.min(chunkSize, m.length - pos);
        }
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).reason).toBe('too_large');
      // Refused once the limit is passed, not after the whole megabyte was buffered.
      expect(pushed, `${mode}: bytes accepted before the refusal`).toBeLessThanOrEqual(limit + chunkSize);
    }
  });

  it('refuses a negative string length (negative_size)', () => {
    const m = Buffer.concat([headerOnly(), Buffer.from([T.STRING, 0, 1]), i32be(-1)]);
    expectReason(() => reader('buffered').push(m), 'negative_size');
    expectReason(() => reader('detect').push(m), 'negative_size');
    // Also inside a list element.
    const inList = Buffer.concat([headerOnly(), Buffer.from([T.LIST, 0, 1, T.STRING]), i32be(1), i32be(-7)]);
    expectReason(() => reader('buffered').push(inList), 'negative_size');
  });

  it('refuses a negative container size (negative_size)', () => {
    for (const head of [
      Buffer.from([T.LIST, 0, 1, T.I32]),
      Buffer.from([T.SET, 0, 1, T.STRING]),
      Buffer.from([T.MAP, 0, 1, T.STRING, T.STRING]),
    ]) {
      expectReason(() => reader('buffered').push(Buffer.concat([headerOnly(), head, i32be(-1), Buffer.from([0])])), 'negative_size');
    }
  });

  it('refuses an unknown field type (bad_type)', () => {
    for (const bad of [1, 5, 7, 9, 16, 0x7f, 0xff]) {
      const m = Buffer.concat([headerOnly(), Buffer.from([bad, 0, 1]), Buffer.alloc(16)]);
      expectReason(() => reader('buffered').push(m), 'bad_type');
      expectReason(() => reader('detect').push(m), 'bad_type');
    }
    // Nested inside a struct field, too.
    const nested = Buffer.concat([headerOnly(), Buffer.from([T.STRUCT, 0, 1, 0x11, 0, 2]), Buffer.alloc(8)]);
    expectReason(() => reader('buffered').push(nested), 'bad_type');
  });

  it('refuses unknown element types of non-empty lists and maps (bad_type)', () => {
    const badList = Buffer.concat([headerOnly(), Buffer.from([T.LIST, 0, 1, 0x13]), i32be(2), Buffer.alloc(8)]);
    expectReason(() => reader('buffered').push(badList), 'bad_type');
    const badMapKey = Buffer.concat([headerOnly(), Buffer.from([T.MAP, 0, 1, 0x00, T.I32]), i32be(1), Buffer.alloc(8)]);
    expectReason(() => reader('buffered').push(badMapKey), 'bad_type');
    const badMapValue = Buffer.concat([headerOnly(), Buffer.from([T.MAP, 0, 1, T.I32, 0x14]), i32be(1), Buffer.alloc(8)]);
    expectReason(() => reader('buffered').push(badMapValue), 'bad_type');
  });

  it('refuses nesting deeper than the limit (too_deep)', () => {
    // What the thrift package itself can still skip (63 structs and a string) passes.
    const refOk = refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedStructs(63) });
    expect(refParseMessage(refOk).end).toBe(refOk.length);
    expect(reader('buffered').push(refOk)).toHaveLength(1);
    // The default scanner allows 64 levels of containers, counting the argument struct.
    const ok = refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedStructs(64) });
    expect(reader('buffered').push(ok)).toHaveLength(1);
    const deep = refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedStructs(65) });
    expectReason(() => reader('buffered').push(deep), 'too_deep');
    expectReason(() => reader('detect').push(deep), 'too_deep');
    // Lists count as levels too.
    expect(reader('buffered').push(refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedLists(63) }))).toHaveLength(1);
    expectReason(() => reader('buffered').push(refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedLists(64) })), 'too_deep');
    // A smaller configured limit.
    const limits = { ...DEFAULT_SCAN_LIMITS, maxDepth: 4 };
    expect(reader('buffered', MAX, limits).push(refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedStructs(4) }))).toHaveLength(1);
    expectReason(() => reader('buffered', MAX, limits).push(refEncode({ name: 'f', type: CALL, seqid: 1, body: nestedStructs(5) })), 'too_deep');
    // A hostile stream of ever-deeper struct headers fails fast, byte by byte.
    const hostile = Buffer.concat([headerOnly(), Buffer.alloc(3 * 10_000, Buffer.from([T.STRUCT, 0, 1]))]);
    expectReason(() => pushAll(reader('buffered'), randomChunks(new Rng(3), hostile, 5)), 'too_deep');
  });

  it('applies the string and container size limits (too_large)', () => {
    const limits = { maxStringBytes: 10, maxContainerSize: 3, maxDepth: 64 };
    const okMsg = refEncode({ name: 'f', type: CALL, seqid: 1, body: struct([1, str('0123456789')], [2, list(T.I32, [i32(1), i32(2), i32(3)])]) });
    expect(reader('buffered', MAX, limits).push(okMsg)).toHaveLength(1);
    expectReason(() => reader('buffered', MAX, limits).push(refEncode({ name: 'f', type: CALL, seqid: 1, body: struct([1, str('0123456789A')]) })), 'too_large');
    expectReason(
      () => reader('buffered', MAX, limits).push(refEncode({ name: 'f', type: CALL, seqid: 1, body: struct([2, list(T.I32, [i32(1), i32(2), i32(3), i32(4)])]) })),
      'too_large',
    );
    // A huge declared string length is refused from its 4-byte length, before any of it arrives.
    expectReason(() => reader('buffered').push(Buffer.concat([headerOnly(), Buffer.from([T.STRING, 0, 1]), i32be(0x7fffffff)])), 'too_large');
    expectReason(() => reader('buffered').push(Buffer.concat([headerOnly(), Buffer.from([T.LIST, 0, 1, T.I64]), i32be(0x7fffffff)])), 'too_large');
  });

  it('refuses malformed message headers (bad_header)', () => {
    // Strict header with a negative or oversized name length.
    expectReason(() => reader('buffered').push(Buffer.concat([i32be(0x80010001 | 0), i32be(-1)])), 'bad_header');
    expectReason(() => reader('buffered').push(Buffer.concat([i32be(0x80010001 | 0), i32be(100_000)])), 'bad_header');
    // Non-strict header with an out-of-range message type.
    for (const type of [0, 5, 0x80]) {
      const m = Buffer.from(refEncode({ ...SIMPLE, strict: false }));
      m[4 + SIMPLE.name.length] = type;
      expectReason(() => reader('buffered').push(m), 'bad_header');
    }
    // Non-strict header with an implausible name length.
    expectReason(() => reader('buffered').push(i32be(5000)), 'bad_header');
  });

  it('either refuses random garbage with a ProtocolError or waits for more; never anything else', () => {
    const valid = refEncode(SIMPLE);
    const limits = { maxStringBytes: 4096, maxContainerSize: 4096, maxDepth: 16 };
    const outcomes = { error: 0, waiting: 0, message: 0 };
    for (let c = 0; c < 600; c++) {
      const rng = new Rng(0xbad + c);
      const mode = MODES[c % 3]!;
      let input: Buffer;
      switch (c % 4) {
        case 0: // pure noise
          input = rng.bytes(rng.int(1, 200));
          break;
        case 1: // a valid header followed by noise
          input = Buffer.concat([headerOnly(rng.pick(['get_table', 'f']), rng.chance(0.5)), rng.bytes(rng.int(0, 200))]);
          break;
        case 2: {
          // a valid message with a few bytes changed
          input = Buffer.from(valid);
          for (let k = rng.int(1, 4); k > 0; k--) input[rng.int(0, input.length - 1)] = rng.int(0, 255);
          break;
        }
        default: // a valid message cut short
          input = valid.subarray(0, rng.int(1, valid.length - 1));
      }
      if (mode === 'framed' && rng.chance(0.5)) input = framed(input);
      const r = reader(mode, 1024 * 1024, limits);
      let got: RawMessage[];
      try {
        got = pushAll(r, randomChunks(rng, input, rng.pick([1, 7, input.length])));
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw new Error(`case ${c} (${mode}): ${String(e)} on ${input.toString('hex')}`);
        outcomes.error++;
        continue;
      }
      // No error: every byte is either in a message handed out or still pending.
      const framing = r.transport === 'framed' ? 4 : 0;
      const accounted = got.reduce((n, m) => n + m.bytes.length + framing, 0) + r.pendingBytes;
      expect(accounted, `case ${c}`).toBe(input.length);
      if (got.length === 0) {
        expect(r.pendingBytes, `case ${c}`).toBeGreaterThan(0);
        outcomes.waiting++;
      }
      // A message handed out is one the reference implementation reads the same way.
      for (const m of got) {
        outcomes.message++;
        // (A frame's body is passed on unexamined; a buffered message must be a whole struct.)
        const ref = refParseHeader(m.bytes);
        expect(Buffer.from(m.header.name, 'latin1').toString('utf8')).toBe(ref.name);
        expect(m.header.type).toBe(ref.type);
        expect(m.header.seqid).toBe(ref.seqid);
        expect(m.header.bodyOffset).toBe(ref.bodyOffset);
        if (r.transport === 'buffered') expect(refParseMessage(m.bytes).end).toBe(m.bytes.length);
      }
    }
    expect(outcomes.error).toBeGreaterThan(100);
    expect(outcomes.waiting).toBeGreaterThan(10);
  });
});

describe('MessageReader: a large message', () => {
  const items: Value[] = [];
  for (let i = 0; i < 200_000; i++) items.push(str(`warehouse/db_${i % 97}/table_${i}/part=${String(i).padStart(14, '0')}`));
  const spec: MessageSpec = {
    name: 'get_partitions_by_names',
    type: CALL,
    seqid: 77,
    body: struct([1, str('db')], [2, str('tbl')], [3, list(T.STRING, items)], [4, i32(7)]),
  };
  const buffered = refEncode(spec);
  const framedWire = refEncode(spec, true);

  it('is about 10 MB', () => {
    expect(buffered.length).toBeGreaterThan(10_000_000);
  });

  for (const [mode, wire] of [['buffered', buffered], ['framed', framedWire], ['detect', buffered], ['detect', framedWire]] as const) {
    it(`arrives in 64 KiB chunks and completes (${mode}${mode === 'detect' ? (wire === buffered ? ', buffered' : ', framed') : ''})`, () => {
      const r = reader(mode);
      const got: RawMessage[] = [];
      const chunk = 64 * 1024;
      for (let pos = 0; pos < wire.length; pos += chunk) {
        const out = r.push(Buffer.from(wire.subarray(pos, pos + chunk)));
        if (pos + chunk < wire.length) expect(out).toEqual([]);
        got.push(...out);
      }
      expect(got).toHaveLength(1);
      expect(got[0]!.bytes.equals(buffered)).toBe(true);
      expect(got[0]!.header.name).toBe(spec.name);
      expect(got[0]!.header.seqid).toBe(77);
      expect(r.pendingBytes).toBe(0);
    });
  }

  it('completes when followed by a small message in the same chunk', () => {
    const small = refEncode({ name: 'getStatus', type: CALL, seqid: 78, body: struct() });
    const r = reader('buffered');
    const got = pushAll(r, [buffered.subarray(0, 5_000_000), Buffer.concat([buffered.subarray(5_000_000), small])]);
    expect(got).toHaveLength(2);
    expect(got[0]!.bytes.equals(buffered)).toBe(true);
    expect(got[1]!.bytes.equals(small)).toBe(true);
    expect(r.pendingBytes).toBe(0);
  });
});

describe('MessageReader.reserve: a reply read into a buffer of its expected size', () => {
  function bigReply(strings: number): Buffer {
    const w = new BinaryWriter().messageBegin('get_partitions_by_names', 2, 1).fieldBegin(15, 0).listBegin(11, strings);
    for (let i = 0; i < strings; i++) w.string(`day=2024-01-01/hour=${i}`.padEnd(200, 'x'));
    return Buffer.from(w.fieldStop().finish());
  }

  function readInChunks(reader: MessageReader, bytes: Buffer): RawMessage[] {
    const out: RawMessage[] = [];
    for (let p = 0; p < bytes.length; p += 65536) out.push(...reader.push(bytes.subarray(p, p + 65536)));
    return out;
  }

  it('fills the reserved buffer when the estimate holds', () => {
    const bytes = bigReply(5000);
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 30 });
    reader.reserve(bytes.length + 100);
    const [m] = readInChunks(reader, bytes);
    expect(m!.bytes.equals(bytes)).toBe(true);
    expect(m!.bytes.buffer.byteLength).toBe(bytes.length + 100);
  });

  it('still reads the whole message when it is larger than reserved, and the next one normally', () => {
    const bytes = bigReply(5000);
    const reader = new MessageReader({ transport: 'buffered', maxMessageBytes: 1 << 30 });
    reader.reserve(bytes.length / 2);
    expect(readInChunks(reader, bytes).map((m) => m.bytes.equals(bytes))).toEqual([true]);
    expect(readInChunks(reader, bytes).map((m) => m.bytes.equals(bytes))).toEqual([true]);
  });
});
