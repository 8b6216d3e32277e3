import { getRequestListener } from '@hono/node-server';
import {
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import {
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  createServer as createH2cServer,
  createSecureServer,
} from 'node:http2';
import { type Server, type Socket, createServer as createNetServer } from 'node:net';
import { parseAddress } from '../acl/address';
import type { AppOptions } from '../doh/app';
import { Inflight } from './classic';
import { type WireAnswerer, fastDoh } from './fast-doh';

/** The HTTP/2 client connection preface (RFC 9113 §3.4), how h2c with prior knowledge starts. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** How long a new cleartext connection may take to send its first bytes. */
const SNIFF_TIMEOUT_MS = 10_000;
/** Inactivity timeout of HTTP/1.1 connections and HTTP/2 sessions. */
const HTTP_IDLE_MS = 60_000;

type FetchApp = { fetch(req: Request, env: object): Response | Promise<Response> };
type ClientAddressOf = NonNullable<AppOptions['clientAddress']>;

export interface HttpFrontOptions {
  /** Answers RFC 8484 GET/POST /dns-query for the default tenant without the app (fast path). */
  readonly answerer?: WireAnswerer;
  /** The variables the app reads per request (resolver settings, ADMIN_TOKEN, rate limits). */
  readonly env: object;
  /** Believe the first X-Forwarded-For address (only behind a proxy that sets it). */
  readonly trustProxy: boolean;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
}

/**
 * The client address of each request, recorded by the HTTP front before the app runs; pass
 * `clientAddress` to createApp.
 */
export class ClientAddresses {
  private readonly map = new WeakMap<Request, Uint8Array | null>();
  readonly clientAddress: ClientAddressOf = (c) => this.map.get(c.req.raw) ?? null;

  record(req: Request, incoming: IncomingMessage | Http2ServerRequest, trustProxy: boolean) {
    this.map.set(req, requestClient(incoming, trustProxy));
  }
}

/**
 * The socket's remote address (IPv4-mapped IPv6 unwrapped) or, with trustProxy, the first
 * X-Forwarded-For address when the header is there (null when that is not an address).
 */
export function requestClient(
  incoming: IncomingMessage | Http2ServerRequest,
  trustProxy: boolean,
): Uint8Array | null {
  const text = requestClientText(incoming, trustProxy);
  return text ? parseAddress(text) : null;
}

/** The same, as text ('' when the socket has no address). */
export function requestClientText(
  incoming: IncomingMessage | Http2ServerRequest,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const header = incoming.headers['x-forwarded-for'];
    const text = Array.isArray(header) ? header.join(',') : header;
    if (text && text.trim())
      return text
        .split(',')[0]!
        .trim()
        .replace(/^\[|\]$/g, '');
  }
  return incoming.socket?.remoteAddress ?? '';
}

/**
 * The DoH listener on PORT. Cleartext: HTTP/1.1 and h2c with prior knowledge on one port (the
 * first bytes decide: the HTTP/2 preface goes to node:http2, anything else to node:http). TLS:
 * HTTP/2 and HTTP/1.1 by ALPN (node:http2 with allowHTTP1).
 */
export class HttpFront {
  readonly server: Server;
  readonly inflight = new Inflight();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private readonly h1Responses = new Set<ServerResponse>();
  private readonly h1 = createHttpServer();
  private draining = false;

  constructor(app: FetchApp, addresses: ClientAddresses, opts: HttpFrontOptions) {
    const listener = getRequestListener((req, bindings) => {
      addresses.record(req, bindings.incoming, opts.trustProxy);
      return app.fetch(req, opts.env);
    });
    const handle = (
      incoming: IncomingMessage | Http2ServerRequest,
      outgoing: ServerResponse | Http2ServerResponse,
    ) => {
      this.inflight.enter();
      let done = false;
      const leave = () => {
        if (done) return;
        done = true;
        if (!('stream' in outgoing)) this.h1Responses.delete(outgoing);
        this.inflight.leave();
      };
      if (!('stream' in outgoing)) {
        this.h1Responses.add(outgoing);
        if (this.draining) outgoing.setHeader('connection', 'close');
      }
      outgoing.once('finish', leave);
      outgoing.once('close', leave);
      if (opts.answerer && fastDoh(incoming, outgoing, opts.answerer, clientText)) return;
      void listener(incoming, outgoing);
    };

    const clientText = (incoming: IncomingMessage | Http2ServerRequest) =>
      requestClientText(incoming, opts.trustProxy);

    const trackSession = (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      if (this.draining) session.close();
    };

    if (opts.tls) {
      const secure = createSecureServer(
        { cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true },
        handle,
      );
      secure.on('session', trackSession);
      secure.setTimeout(HTTP_IDLE_MS);
      secure.on('connection', (socket: Socket) => this.track(socket));
      this.server = secure;
      return;
    }

    this.h1.on('request', handle);
    this.h1.setTimeout(HTTP_IDLE_MS);
    // The http server is fed sockets, never listens itself; 'listening' starts its connection
    // bookkeeping (headers/request timeouts, closeIdleConnections) as listen() would.
    this.h1.emit('listening');
    const h2c = createH2cServer(handle);
    h2c.on('session', trackSession);
    h2c.setTimeout(HTTP_IDLE_MS);
    this.server = createNetServer((socket) => {
      this.track(socket);
      this.sniff(socket, h2c);
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Reads until the first bytes tell HTTP/2's preface from HTTP/1.1, then hands over. */
  private sniff(socket: Socket, h2c: { emit(event: 'connection', s: Socket): boolean }): void {
    let seen: Buffer = Buffer.alloc(0);
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const onData = (chunk: Buffer) => {
      seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
      const n = Math.min(seen.length, H2_PREFACE.length);
      const h2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2 && seen.length < H2_PREFACE.length) return; // could still be the preface
      socket.off('data', onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      if (h2) {
        // Http2Session reads what is already buffered on the socket before taking it over.
        h2c.emit('connection', socket);
      } else {
        this.h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  /**
   * Stops accepting, lets requests in flight finish (HTTP/1.1 with `Connection: close`, HTTP/2
   * with GOAWAY), and resolves when none is left.
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const res of this.h1Responses) if (!res.headersSent) res.setHeader('connection', 'close');
    for (const s of this.sessions) s.close();
    this.h1.closeIdleConnections();
    await this.inflight.idle();
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    for (const s of this.sessions) s.destroy();
  }
}
