import type { Socket } from 'node:net';
import { type H2Handler, H2Connection } from './connection';

/** How long a session may stay open after GOAWAY for its streams to finish. */
const GOAWAY_GRACE_MS = 5000;

/**
 * One HTTP/2 connection on a socket: bytes from the socket go to the connection, its output
 * is written in one piece per turn of the event loop (every answer ready by then goes in the
 * same write), and reading pauses while the socket's buffer is full.
 */
export class H2Session {
  private readonly conn: H2Connection;
  private scheduled = false;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    handler: H2Handler,
    /** Bytes already read from the socket (the preface, when the protocol was sniffed). */
    initial: Uint8Array | null,
    idleMs: number,
  ) {
    this.conn = new H2Connection(handler, () => this.schedule());
    socket.setNoDelay(true);
    socket.setTimeout(idleMs, () => this.drain());
    socket.on('data', (chunk: Buffer) => {
      this.conn.receive(chunk);
      this.flush(); // what was answered at once goes out now
    });
    socket.on('drain', () => socket.resume());
    socket.on('error', () => socket.destroy());
    socket.on('end', () => this.drain());
    if (initial && initial.length > 0) this.conn.receive(initial);
    socket.resume();
  }

  get activeStreams(): number {
    return this.conn.activeStreams;
  }

  /** GOAWAY: streams already started finish, then the connection closes. */
  drain(): void {
    this.conn.goAway();
    setTimeout(() => this.socket.destroy(), GOAWAY_GRACE_MS).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ended || this.socket.destroyed) return;
    const out = this.conn.takeOutput();
    if (out.length > 0) {
      const ok = this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      if (!ok) this.socket.pause();
    }
    if (this.conn.closed) {
      this.ended = true;
      this.socket.end();
    }
  }
}
