import * as dnsPacket from 'dns-packet';
import { QCLASS_IN } from './constants';
import { typeNumber } from './message';

/**
 * Writes DNS messages by hand (RFC 1035 §4.1) for the fixed shapes of the data path: upstream
 * questions and responses built from upstream records. Names are written uncompressed, as
 * dns-packet writes them, so a message written here is byte for byte what dns-packet would give.
 */
export class WireWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 512) {
    this.buf = new Uint8Array(capacity);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }

  u8(value: number): void {
    this.room(1);
    this.buf[this.length++] = value;
  }

  u16(value: number): void {
    this.room(2);
    this.buf[this.length++] = value >>> 8;
    this.buf[this.length++] = value;
  }

  u32(value: number): void {
    this.room(4);
    this.buf[this.length++] = value >>> 24;
    this.buf[this.length++] = value >>> 16;
    this.buf[this.length++] = value >>> 8;
    this.buf[this.length++] = value;
  }

  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }

  zeros(n: number): void {
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  /** Overwrites a 16-bit field written earlier (a section count, an RDLENGTH). */
  setU16(at: number, value: number): void {
    this.buf[at] = value >>> 8;
    this.buf[at + 1] = value;
  }

  /**
   * A name in presentation form, as dns-packet decodes it (labels joined by '.'). Names of
   * printable ASCII labels are written here; anything else goes through dns-packet's own
   * encoder, whose quirks (non-ASCII text, line breaks, empty labels) are kept that way.
   */
  name(name: string): void {
    let start = 0;
    let end = name.length;
    // dns-packet strips one leading and one trailing dot.
    if (name.charCodeAt(0) === 0x2e) start = 1;
    if (end > start && name.charCodeAt(end - 1) === 0x2e) end--;
    if (!isPlainName(name, start, end)) {
      this.bytes(dnsPacketName(name));
      return;
    }
    this.room(end - start + 2);
    let lengthAt = this.length++;
    for (let i = start; i < end; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        this.buf[lengthAt] = this.length - lengthAt - 1;
        lengthAt = this.length++;
      } else {
        this.buf[this.length++] = c;
      }
    }
    if (end > start) {
      this.buf[lengthAt] = this.length - lengthAt - 1;
      this.buf[this.length++] = 0;
    } else {
      this.buf[lengthAt] = 0; // the root
    }
  }

  /** Copies the name at `at` of the message `src`, following compression pointers (expanded). */
  copyName(src: Uint8Array, at: number): void {
    let i = at;
    for (;;) {
      const len = src[i]!;
      if (len === 0) break;
      if ((len & 0xc0) === 0xc0) {
        i = ((len & 0x3f) << 8) | src[i + 1]!;
        continue;
      }
      this.bytes(src.subarray(i, i + 1 + len));
      i += 1 + len;
    }
    this.u8(0);
  }

  /** One question of class IN (RFC 1035 §4.1.2); `type` is a dns-packet type name. */
  question(name: string, type: string): void {
    this.name(name);
    this.u16(typeNumber(type));
    this.u16(QCLASS_IN);
  }

  /** A copy of the message written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Labels of 1 to 63 printable ASCII characters other than '.' and '\' (see WireWriter.name). */
function isPlainName(name: string, start: number, end: number): boolean {
  let label = 0;
  for (let i = start; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return false;
      label = 0;
    } else if (c < 0x20 || c > 0x7e || c === 0x5c || ++label > 63) {
      return false;
    }
  }
  return end === start || label > 0;
}

/** dns-packet's encoding of a name (its name encoder, reached through a question). */
function dnsPacketName(name: string): Uint8Array {
  const msg = dnsPacket.encode({ questions: [{ name, type: 'A' }] });
  return new Uint8Array(msg.buffer, msg.byteOffset + 12, msg.byteLength - 16);
}
