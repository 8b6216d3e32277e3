import { QCLASS_IN } from './constants';

/**
 * Writes DNS messages (RFC 1035 §4.1). Names are given uncompressed (src/dns/name.ts) and written
 * with message compression (RFC 1035 §4.1.4) against the names written before them, matching
 * octet for octet, so a pointer never changes the letter case a reader sees.
 */
export class WireWriter {
  private buf: Uint8Array;
  length = 0;
  /** Offsets of the name suffixes written so far (uncompressed octets as latin1 text). */
  private readonly suffixes = new Map<string, number>();

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
   * An uncompressed name. With `compress` its longest suffix already in the message becomes a
   * pointer, and its own suffixes become targets for later names; without (RDATA of types other
   * than RFC 1035's, RFC 3597 §4) it is written out whole and is no target.
   */
  name(name: Uint8Array, compress = true): void {
    if (!compress) {
      this.bytes(name);
      return;
    }
    let key = '';
    for (let i = 0; i < name.length; i++) key += String.fromCharCode(name[i]!);
    const start = this.length;
    let at = 0;
    while (name[at] !== 0 && at < name.length) {
      const target = this.suffixes.get(at === 0 ? key : key.slice(at));
      if (target !== undefined) {
        this.bytes(name.subarray(0, at));
        this.u16(0xc000 | target);
        this.remember(key, start, at);
        return;
      }
      at += name[at]! + 1;
    }
    this.bytes(name);
    this.remember(key, start, at);
  }

  /** Records the suffixes of a name written at `start` whose labels up to `upTo` are literal. */
  private remember(key: string, start: number, upTo: number): void {
    for (let at = 0; at < upTo; at += key.charCodeAt(at) + 1) {
      if (start + at > 0x3fff) return;
      this.suffixes.set(at === 0 ? key : key.slice(at), start + at);
    }
  }

  /** One question of class IN (RFC 1035 §4.1.2). */
  question(name: Uint8Array, type: number): void {
    this.name(name);
    this.u16(type);
    this.u16(QCLASS_IN);
  }

  /** A copy of the message written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
