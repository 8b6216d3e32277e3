import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { type Socket, connect as netConnect, isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, rootCertificates } from 'node:tls';
import type { ExchangeFailure, Exchanger, Exchangers } from '../upstream/doh-client';
import { type UpstreamTarget, parseUpstream } from '../upstream/target';

/**
 * Classic upstreams for the Node server: `udp://` (node:dgram), `tcp://` (node:net) and
 * `tls://` (node:tls, RFC 7858), each query with a random ID (RFC 5452 §9.2) that the answer
 * must carry. UDP uses a new socket, so a new random source port, per query, and repeats the
 * query over TCP when the answer is truncated (RFC 1035 §4.2.1, RFC 7766 §5). TCP and DoT keep
 * one connection per upstream open while it is busy and pipeline queries on it, matching answers
 * by ID (RFC 7766 §6.2.1.1, §7); it closes after IDLE_MS with nothing in flight.
 */

export interface ClassicOptions {
  /** Extra trusted CA certificates for DoT upstreams (UPSTREAM_CA_FILE), PEM. */
  readonly ca?: Buffer | null;
}

/** A connection with nothing in flight is closed after this long. */
export const IDLE_MS = 5000;
/** A TCP or TLS connection not established by then is given up (its queries fail over). */
export const CONNECT_TIMEOUT_MS = 3000;
/** Queries in flight on one connection at most (IDs must stay unique). */
const MAX_IN_FLIGHT = 1000;

const FLAG_QR = 0x80;
const FLAG_TC = 0x02;

export function classicExchangers(opts: ClassicOptions = {}): Exchangers {
  const ca = opts.ca ? [...rootCertificates, opts.ca.toString('utf8')] : undefined;
  const streams = new Map<string, StreamUpstream>();
  const stream = (url: string, target: UpstreamTarget) => {
    let s = streams.get(url);
    if (!s) {
      s = new StreamUpstream(target, ca);
      streams.set(url, s);
    }
    return s;
  };
  const targets = new Map<string, UpstreamTarget>();
  const targetOf = (url: string): UpstreamTarget | ExchangeFailure => {
    let t = targets.get(url);
    if (!t) {
      const parsed = parseUpstream(url);
      if (!parsed.ok) return { ok: false, kind: 'network', detail: parsed.reason };
      t = parsed.target;
      targets.set(url, t);
    }
    return t;
  };
  const overStream: Exchanger = async (url, query, signal) => {
    const t = targetOf(url);
    return 'ok' in t ? t : stream(url, t).exchange(query, signal);
  };
  const overUdp: Exchanger = async (url, query, signal) => {
    const t = targetOf(url);
    if ('ok' in t) return t;
    const answer = await udpExchange(t, query, signal);
    if (answer !== 'truncated') return answer;
    // The same server over TCP, on one connection shared with tcp:// for it.
    return stream(`tcp://${url.slice('udp://'.length)}`, { ...t, scheme: 'tcp' }).exchange(
      query,
      signal,
    );
  };
  return { 'udp:': overUdp, 'tcp:': overStream, 'tls:': overStream };
}

function fail(kind: ExchangeFailure['kind'], detail: string): ExchangeFailure {
  return { ok: false, kind, detail };
}

const ABORTED = fail('timeout', 'aborted');

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The address to send to: an IP as given, or the host name looked up by the system. */
async function addressOf(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const family = isIP(host);
  if (family !== 0) return { address: host, family: family as 4 | 6 };
  const found = await lookup(host);
  return { address: found.address, family: found.family === 6 ? 6 : 4 };
}

/** A copy of `query` with a fresh random ID. */
function withId(query: Uint8Array, id: number): Uint8Array {
  const out = new Uint8Array(query);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  return out;
}

/** The answer handed on: ID back to 0, as for DoH (the resolver checks that). */
function idZero(answer: Uint8Array): Uint8Array {
  const out = new Uint8Array(answer);
  out[0] = 0;
  out[1] = 0;
  return out;
}

/**
 * One query over UDP from a new socket (an ephemeral, random source port), connected to the
 * server so that only its datagrams arrive. Datagrams with another ID or that are not responses
 * are ignored (RFC 5452 §9.1); 'truncated' when the answer has TC=1.
 */
async function udpExchange(
  t: UpstreamTarget,
  query: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array | ExchangeFailure | 'truncated'> {
  if (signal.aborted) return ABORTED;
  let to: { address: string; family: 4 | 6 };
  try {
    to = await addressOf(t.host);
  } catch (err) {
    return fail('network', `cannot resolve ${t.host}: ${errorText(err)}`);
  }
  const id = randomInt(0, 0x10000);
  const packet = withId(query, id);
  return new Promise((resolve) => {
    const socket = createSocket(to.family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: Uint8Array | ExchangeFailure | 'truncated') => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    const onAbort = () => finish(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(fail('network', errorText(err))));
    socket.on('message', (msg: Buffer) => {
      if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2]! & FLAG_QR) === 0) return;
      finish((msg[2]! & FLAG_TC) !== 0 ? 'truncated' : idZero(msg));
    });
    socket.connect(t.port, to.address, () => {
      if (done) return; // aborted while connecting: the socket is closed
      try {
        socket.send(packet, (err) => {
          if (err) finish(fail('network', errorText(err)));
        });
      } catch (err) {
        finish(fail('network', errorText(err)));
      }
    });
  });
}

interface Pending {
  resolve(r: Uint8Array | ExchangeFailure): void;
}

/** TCP or DoT to one upstream: one connection at a time, queries pipelined on it. */
class StreamUpstream {
  private conn: StreamConnection | null = null;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly ca: string[] | undefined,
  ) {}

  async exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array | ExchangeFailure> {
    const first = await this.once(query, signal);
    // A connection the server closed while idle loses the queries just written on it: once more
    // on a fresh connection (RFC 7766 §6.2.1: the client should retry).
    return first.retry ? (await this.once(query, signal)).result : first.result;
  }

  private async once(
    query: Uint8Array,
    signal: AbortSignal,
  ): Promise<{ result: Uint8Array | ExchangeFailure; retry: boolean }> {
    if (signal.aborted) return { result: ABORTED, retry: false };
    if (!this.conn || this.conn.closed) {
      let to: { address: string; family: 4 | 6 };
      try {
        to = await addressOf(this.target.host);
      } catch (err) {
        return {
          result: fail('network', `cannot resolve ${this.target.host}: ${errorText(err)}`),
          retry: false,
        };
      }
      if (!this.conn || this.conn.closed)
        this.conn = new StreamConnection(this.target, to.address, this.ca);
    }
    const conn = this.conn;
    const reused = conn.answered > 0;
    const result = await conn.send(query, signal);
    // Closed or reset under the query (not aborted, not refused for load).
    const retry =
      !(result instanceof Uint8Array) && reused && result.kind === 'network' && conn.closed;
    return { result, retry };
  }
}

const CLOSED = 'connection closed before the answer';

class StreamConnection {
  closed = false;
  /** Answers received on this connection. */
  answered = 0;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private buffer: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | null = null;

  constructor(target: UpstreamTarget, address: string, ca: string[] | undefined) {
    if (target.scheme === 'tls') {
      const name = target.tlsName ?? target.host;
      this.socket = tlsConnect({
        host: address,
        port: target.port,
        // SNI carries host names only (RFC 6066 §3); an address is checked against IP SANs.
        servername: isIP(name) === 0 ? name : undefined,
        // The certificate must carry the name given (or the address: an IP SAN), whatever
        // address was dialled.
        checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
        ca,
        // Always, whatever NODE_TLS_REJECT_UNAUTHORIZED says: an upstream is trusted or unused.
        rejectUnauthorized: true,
        ALPNProtocols: ['dot'],
        minVersion: 'TLSv1.2',
      });
    } else {
      this.socket = netConnect({ host: address, port: target.port });
    }
    this.socket.setNoDelay(true);
    const connecting = setTimeout(
      () => this.close(`no connection within ${CONNECT_TIMEOUT_MS} ms`),
      CONNECT_TIMEOUT_MS,
    );
    connecting.unref();
    this.socket.once(target.scheme === 'tls' ? 'secureConnect' : 'connect', () =>
      clearTimeout(connecting),
    );
    this.socket.once('close', () => clearTimeout(connecting));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) =>
      this.close(`${target.scheme === 'tls' ? 'TLS: ' : ''}${errorText(err)}`),
    );
    this.socket.on('close', () => this.close(CLOSED));
  }

  send(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array | ExchangeFailure> {
    if (this.closed) return Promise.resolve(fail('network', CLOSED));
    if (this.pending.size >= MAX_IN_FLIGHT) {
      return Promise.resolve(fail('network', 'too many queries in flight'));
    }
    let id = randomInt(0, 0x10000);
    while (this.pending.has(id)) id = randomInt(0, 0x10000);
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = null;
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        this.pending.delete(id);
        this.maybeIdle();
        resolve(ABORTED);
      };
      this.pending.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      frame.set(withId(query, id), 2);
      this.socket.write(frame);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2) {
      const len = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + len) break;
      const msg = this.buffer.subarray(2, 2 + len);
      this.buffer = this.buffer.subarray(2 + len);
      if (msg.length < 12 || (msg[2]! & FLAG_QR) === 0) continue;
      const id = msg.readUInt16BE(0);
      const p = this.pending.get(id);
      if (!p) continue; // not ours (or given up on): ignored
      this.pending.delete(id);
      this.answered++;
      p.resolve(idZero(msg));
    }
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.closed || this.pending.size > 0 || this.idle) return;
    this.idle = setTimeout(() => this.close(CLOSED), IDLE_MS);
    this.idle.unref();
  }

  private close(reason: string): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    for (const p of this.pending.values()) p.resolve(fail('network', reason));
    this.pending.clear();
  }
}
