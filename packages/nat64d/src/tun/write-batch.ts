/**
 * Collects translated packets (the core's emit views are only valid during the call) into one
 * buffer, flushed to the TUN device once per read batch or when full.
 */
export class WriteBatch {
  readonly buf: Uint8Array;
  readonly meta: Uint32Array;
  /** Per packet: the gso entry of the GSO packet being translated when it was pushed, or 0. */
  readonly gso: Uint32Array;
  /** Set by the packet loop around the translation of a GSO super-packet. */
  currentGso = 0;
  count = 0;
  private used = 0;
  /** Packets dropped because they were larger than the buffer. */
  oversize = 0;

  constructor(
    private readonly flushTo: (
      buf: Uint8Array,
      meta: Uint32Array,
      count: number,
      gso: Uint32Array,
    ) => void,
    bytes = 1 << 20,
    packets = 256,
  ) {
    this.buf = new Uint8Array(bytes);
    this.meta = new Uint32Array(packets * 2);
    this.gso = new Uint32Array(packets);
  }

  /** Bound to `this`: pass directly as the translator's Emit. */
  readonly push = (packet: Uint8Array): void => {
    const len = packet.length;
    if (len > this.buf.length) {
      this.oversize++;
      return;
    }
    if (this.used + len > this.buf.length || this.count * 2 >= this.meta.length) this.flush();
    this.buf.set(packet, this.used);
    this.meta[this.count * 2] = this.used;
    this.meta[this.count * 2 + 1] = len;
    this.gso[this.count] = this.currentGso;
    this.count++;
    this.used += len;
  };

  flush(): void {
    if (this.count > 0) this.flushTo(this.buf, this.meta, this.count, this.gso);
    this.count = 0;
    this.used = 0;
  }
}
