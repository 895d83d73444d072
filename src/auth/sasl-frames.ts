/**
 * Thrift's SASL negotiation messages (TSaslTransport): one status byte, a 4-byte big-endian
 * payload length, the payload. After the negotiation both sides exchange length-prefixed frames,
 * the same bytes as the framed transport when no security layer was agreed.
 */
export enum SaslStatus {
  START = 1,
  OK = 2,
  BAD = 3,
  ERROR = 4,
  COMPLETE = 5,
}

export interface SaslMessage {
  readonly status: SaslStatus;
  readonly payload: Buffer;
}

/** Negotiation payloads are small (tokens of a few KiB); anything larger is not SASL. */
export const MAX_SASL_PAYLOAD = 1024 * 1024;

export function encodeSaslMessage(status: SaslStatus, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = status;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

export class SaslFrameError extends Error {}

/**
 * Reads negotiation messages from a byte stream. `take()` returns the next whole message or null;
 * `rest()` hands over the bytes after the negotiation (the first data frames may arrive with the
 * last negotiation message).
 */
export class SaslMessageReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
  }

  take(): SaslMessage | null {
    if (this.buffered.length < 5) return null;
    const status = this.buffered[0]!;
    if (status < SaslStatus.START || status > SaslStatus.COMPLETE) {
      throw new SaslFrameError(`not a SASL negotiation message (status byte ${status}); the peer does not speak Thrift SASL`);
    }
    const length = this.buffered.readUInt32BE(1);
    if (length > MAX_SASL_PAYLOAD) {
      throw new SaslFrameError(`SASL negotiation message of ${length} bytes (limit ${MAX_SASL_PAYLOAD}); the peer does not speak Thrift SASL`);
    }
    if (this.buffered.length < 5 + length) return null;
    const payload = Buffer.from(this.buffered.subarray(5, 5 + length));
    this.buffered = this.buffered.subarray(5 + length);
    return { status, payload };
  }

  rest(): Buffer {
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }
}
