import { type RemoteInfo, type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type Server, type Socket, createServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { parseAddress } from '../acl/address';
import { EDE, QTYPE, RCODE } from '../dns/constants';
import { parseQuery } from '../dns/query';
import { errorResponse } from '../dns/response';
import { Section, scanMessage } from '../dns/scan';
import type { EngineResult, Verdict } from '../resolver/engine';
import { FrameReader, formErr, frame, truncateForUdp } from './framing';
import type { ResponseRateLimiter } from './rrl';

/** Answers one query's wire bytes for a client (the engine, with this server's tenant). */
export type Answerer = (
  raw: Uint8Array,
  clientAddress: string,
  transport: Transport,
) => EngineResult | Promise<EngineResult>;

export type Transport = 'udp' | 'tcp' | 'tls';

/** How long a TCP/TLS connection may sit with no query in flight (RFC 7766 §6.2.3). */
export const TCP_IDLE_MS = 10_000;
/** Queries in flight on one connection before it stops reading (back-pressure). */
export const TCP_MAX_INFLIGHT = 100;
/** The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header octets). */
export const MAX_UDP_PAYLOAD = 65507;
/** Datagrams in flight per process before new ones are dropped. */
export const UDP_MAX_INFLIGHT = 10_000;

/**
 * One classic DNS message in, one out: the engine's answer, or the DNS form of its verdict
 * (FORMERR for undecodable queries whose header and question can be read, null to drop or close
 * the stream for anything less); SERVFAIL if the engine fails; UDP answers truncated to the
 * client's EDNS payload size (512 without EDNS).
 */
export async function answerMessage(
  bytes: Uint8Array,
  clientAddress: string,
  transport: Transport,
  answerer: Answerer,
  log: (line: string) => void = () => {},
): Promise<Uint8Array | null> {
  try {
    let response: Uint8Array | null;
    try {
      const result = await answerer(bytes, clientAddress, transport);
      response = result instanceof Uint8Array ? result : verdictMessage(bytes, result);
    } catch (err) {
      log(`query from ${clientAddress} failed: ${err instanceof Error ? err.message : err}`);
      response = verdictMessage(bytes, { kind: 'misconfigured', reason: 'internal error' });
    }
    if (!response || transport !== 'udp' || response.length <= 512) return response;
    return truncateForUdp(response, Math.min(clientPayloadSize(bytes), MAX_UDP_PAYLOAD));
  } catch (err) {
    log(`dropped a message from ${clientAddress}: ${err instanceof Error ? err.message : err}`);
    return null;
  }
}

/**
 * A verdict as DNS: FORMERR (or nothing) for bytes that are no query, REFUSED with an Extended
 * DNS Error for a refused tenant or rate limit, SERVFAIL with the reason otherwise.
 */
function verdictMessage(bytes: Uint8Array, verdict: Verdict): Uint8Array | null {
  if (verdict.kind === 'rate-limited' && verdict.response) return verdict.response;
  const parsed = parseQuery(bytes);
  // A client outside ALLOW_QUERY gets REFUSED for a query, nothing for anything else.
  if (!parsed.ok && verdict.kind === 'refused') return null;
  if (!parsed.ok || verdict.kind === 'malformed' || verdict.kind === 'too-large') {
    return formErr(bytes);
  }
  const query = parsed.query;
  const refused =
    verdict.kind === 'unknown-tenant' ||
    verdict.kind === 'forbidden' ||
    verdict.kind === 'refused' ||
    verdict.kind === 'rate-limited';
  const ede = [{ code: refused ? EDE.PROHIBITED : EDE.OTHER, text: verdict.reason }];
  return errorResponse(query, refused ? RCODE.REFUSED : RCODE.SERVFAIL, query.edns, ede);
}

/** The client's EDNS UDP payload size (RFC 6891 §6.2.3), 512 without an OPT record. */
function clientPayloadSize(query: Uint8Array): number {
  const opt = scanMessage(query)?.records.find(
    (r) => r.type === QTYPE.OPT && r.section === Section.Additional,
  );
  return opt ? Math.max(512, opt.klass) : 512;
}

export interface ClassicOptions {
  readonly answerer: Answerer;
  readonly log?: (line: string) => void;
  readonly idleMs?: number;
  /** UDP response rate limiting (UDP only; TCP and TLS cannot be spoofed). */
  readonly rrl?: ResponseRateLimiter;
}

/**
 * The "slip" of response rate limiting: an empty NOERROR answer to the query with TC=1 (its
 * OPT record kept, RFC 6891 §7), which a real client follows up over TCP (RFC 7766 §5).
 * null when the bytes are not a query.
 */
export function slipResponse(bytes: Uint8Array): Uint8Array | null {
  const parsed = parseQuery(bytes);
  if (!parsed.ok) return null;
  const response = errorResponse(parsed.query, RCODE.NOERROR, parsed.query.edns);
  return truncateForUdp(response, 0);
}

/** Counts work in flight so shutdown can wait for it. */
export class Inflight {
  private count = 0;
  private waiters: (() => void)[] = [];

  enter(): void {
    this.count++;
  }

  leave(): void {
    this.count--;
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
  }

  get size(): number {
    return this.count;
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/** A UDP DNS listener; `drain()` stops taking datagrams and resolves when answers are out. */
export class UdpDns {
  readonly inflight = new Inflight();
  private draining = false;

  constructor(
    readonly socket: UdpSocket,
    private readonly opts: ClassicOptions,
  ) {
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => opts.log?.(`udp: ${err.message}`));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.draining || this.inflight.size >= UDP_MAX_INFLIGHT) return;
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const rrl = this.opts.rrl;
    if (rrl?.enabled) {
      // Decided before resolving: a limited flood costs no upstream query.
      const client = parseAddress(rinfo.address);
      const action = client ? rrl.decide(client) : 'send';
      if (action === 'drop') return;
      if (action === 'slip') {
        const slip = slipResponse(bytes);
        if (slip) this.socket.send(slip, rinfo.port, rinfo.address);
        return;
      }
    }
    this.inflight.enter();
    void answerMessage(bytes, rinfo.address, 'udp', this.opts.answerer, this.opts.log)
      .then(
        (res) =>
          new Promise<void>((done) => {
            if (!res) return done();
            this.socket.send(res, rinfo.port, rinfo.address, () => done());
          }),
      )
      .catch(() => {})
      .finally(() => this.inflight.leave());
  }

  async drain(): Promise<void> {
    this.draining = true;
    await this.inflight.idle();
  }

  close(): Promise<void> {
    return new Promise((r) => {
      try {
        this.socket.close(() => r());
      } catch {
        r();
      }
    });
  }
}

/** Binds a UDP socket: udp6 for IPv6 and the dual-stack `::`, udp4 for IPv4 addresses. */
export function bindUdp(host: string, port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    socket.once('error', fail);
    socket.bind({ port, address: host }, () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/**
 * DNS over TCP (and, behind TLS, RFC 7858): length-framed queries, answered concurrently and
 * written back as each completes (RFC 7766 §6.2.1.1), closed after `idleMs` with nothing in
 * flight; a message that is not even a header and question closes the connection.
 */
export class StreamDns {
  readonly inflight = new Inflight();
  private readonly connections = new Set<Connection>();
  private draining = false;

  constructor(private readonly opts: ClassicOptions) {}

  /** Handles one accepted connection (plain TCP or a secured TLS socket). */
  accept(socket: Socket | TLSSocket, transport: Transport): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, transport, this.opts, this.inflight, () =>
      this.connections.delete(conn),
    );
    this.connections.add(conn);
  }

  /** Stops reading new queries, finishes those in flight, closes every connection. */
  async drain(): Promise<void> {
    this.draining = true;
    for (const c of this.connections) c.drain();
    await this.inflight.idle();
  }

  destroyAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }
}

class Connection {
  private readonly reader = new FrameReader();
  private inflight = 0;
  private closing = false;

  constructor(
    readonly socket: Socket | TLSSocket,
    private readonly transport: Transport,
    private readonly opts: ClassicOptions,
    private readonly total: Inflight,
    onClose: () => void,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleMs ?? TCP_IDLE_MS);
    socket.on('timeout', () => {
      if (this.inflight === 0) socket.end();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.drain());
    socket.on('error', () => socket.destroy());
    socket.on('close', onClose);
  }

  private get address(): string {
    return this.socket.remoteAddress ?? '';
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (const msg of this.reader.push(bytes)) this.query(msg);
    if (this.inflight >= TCP_MAX_INFLIGHT) this.socket.pause();
  }

  private query(msg: Uint8Array): void {
    this.inflight++;
    this.total.enter();
    void answerMessage(msg, this.address, this.transport, this.opts.answerer, this.opts.log)
      .then((res) => {
        if (this.socket.destroyed) return;
        if (res) this.socket.write(frame(res));
        else this.socket.end(); // not DNS: stop talking
      })
      .catch(() => {})
      .finally(() => {
        this.inflight--;
        this.total.leave();
        if (this.inflight < TCP_MAX_INFLIGHT && !this.closing) this.socket.resume();
        if (this.closing && this.inflight === 0) this.socket.end();
      });
  }

  /** No more queries read; the connection ends when the answers in flight are written. */
  drain(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.pause();
    if (this.inflight === 0) this.socket.end();
  }
}

/** The TCP listener for DNS on DNS_PORT. */
export function tcpServer(stream: StreamDns): Server {
  // Half-open: queries sent just before the client's FIN still get their answers.
  return createServer({ allowHalfOpen: true }, (socket) => stream.accept(socket, 'tcp'));
}

/** The DNS-over-TLS listener on DOT_PORT (ALPN "dot", RFC 7858 §3.2). */
export function dotServer(stream: StreamDns, tls: { cert: Buffer; key: Buffer }): Server {
  return createTlsServer(
    {
      cert: tls.cert,
      key: tls.key,
      ALPNProtocols: ['dot'],
      handshakeTimeout: 10_000,
      allowHalfOpen: true,
    },
    (socket) => stream.accept(socket, 'tls'),
  );
}
