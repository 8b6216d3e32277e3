import { getRequestListener } from '@hono/node-server';
import {
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import { type Server, type Socket, createServer as createNetServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { parseAddress } from '../acl/address';
import type { AppOptions } from '../doh/app';
import {
  type DohExchange,
  type HttpReply,
  dohRoute,
  handleDoh,
  internalErrorReply,
  textReply,
} from '../doh/handler';
import type { Engine, EngineEnv } from '../resolver/engine';
import { Inflight } from './classic';
import type { H2Handler, H2Request } from './h2/connection';
import { CLIENT_PREFACE } from './h2/frames';
import { H2Session } from './h2/session';

/** The HTTP/2 client connection preface (RFC 9113 §3.4), how h2c with prior knowledge starts. */
const H2_PREFACE = Buffer.from(CLIENT_PREFACE);
/** How long a new cleartext connection may take to send its first bytes. */
const SNIFF_TIMEOUT_MS = 10_000;
/** Inactivity timeout of HTTP/1.1 connections and HTTP/2 sessions. */
const HTTP_IDLE_MS = 60_000;

type FetchApp = { fetch(req: Request, env: object): Response | Promise<Response> };
type ClientAddressOf = NonNullable<AppOptions['clientAddress']>;

export interface HttpFrontOptions {
  /** Answers the DoH URLs (src/doh/handler.ts), as the worker does; the app answers the rest. */
  readonly engine: Engine;
  /** The variables the app reads per request (resolver settings, ADMIN_TOKEN, rate limits). */
  readonly env: EngineEnv;
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
  readonly clientAddress: ClientAddressOf = (req) => this.map.get(req) ?? null;

  record(req: Request, clientText: string): void {
    this.map.set(req, clientText ? parseAddress(clientText) : null);
  }
}

/**
 * The client's address as text ('' when unknown): the socket's remote address or, with
 * trustProxy, the first X-Forwarded-For address when the header is there.
 */
function clientText(
  forwardedFor: string | readonly string[] | undefined,
  remoteAddress: string | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const text = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor?.join(',');
    if (text && text.trim())
      return text
        .split(',')[0]!
        .trim()
        .replace(/^\[|\]$/g, '');
  }
  return remoteAddress ?? '';
}

/**
 * The DoH listener on PORT. Cleartext: HTTP/1.1 and h2c with prior knowledge on one port (the
 * first bytes decide). TLS: HTTP/2 or HTTP/1.1 by ALPN. HTTP/1.1 is node:http; HTTP/2 is this
 * project's own server (./h2), which answers cache hits in the same turn of the event loop.
 */
export class HttpFront {
  readonly server: Server;
  readonly inflight = new Inflight();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<H2Session>();
  private readonly h1Responses = new Set<ServerResponse>();
  private readonly h1 = createHttpServer();
  private draining = false;

  constructor(
    private readonly app: FetchApp,
    private readonly addresses: ClientAddresses,
    private readonly opts: HttpFrontOptions,
  ) {
    const listener = getRequestListener(
      (req, bindings) => {
        // Only node:http requests reach the listener (HTTP/2 goes through h2Handler).
        addresses.record(req, this.h1Client(bindings.incoming as IncomingMessage));
        return app.fetch(req, opts.env);
      },
      // Keep the runtime's own Request and Response: @hono/node-server's replacements fail when
      // Hono answers HEAD with `new Response(null, getResponse)` and getResponse was made
      // without an init (a DoH answer), so HEAD answered 500 on HTTP/1.1 and HTTP/2 alike.
      { overrideGlobalObjects: false },
    );
    this.h1.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
      this.inflight.enter();
      let done = false;
      const leave = () => {
        if (done) return;
        done = true;
        this.h1Responses.delete(outgoing);
        this.inflight.leave();
      };
      this.h1Responses.add(outgoing);
      if (this.draining) outgoing.setHeader('connection', 'close');
      outgoing.once('finish', leave);
      outgoing.once('close', leave);
      if (this.h1Doh(incoming, outgoing)) return;
      void listener(incoming, outgoing);
    });
    this.h1.setTimeout(HTTP_IDLE_MS);
    // The http server is fed sockets, never listens itself; 'listening' starts its connection
    // bookkeeping (headers/request timeouts, closeIdleConnections) as listen() would.
    this.h1.emit('listening');

    if (opts.tls) {
      const secure = createTlsServer({
        cert: opts.tls.cert,
        key: opts.tls.key,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      secure.on('connection', (socket: Socket) => this.track(socket));
      secure.on('secureConnection', (socket: TLSSocket) => {
        if (socket.alpnProtocol === 'h2') this.startH2(socket, null);
        else this.h1.emit('connection', socket);
      });
      secure.on('tlsClientError', (_err, socket) => socket.destroy());
      this.server = secure;
      return;
    }
    this.server = createNetServer({ noDelay: true }, (socket) => {
      this.track(socket);
      this.sniff(socket);
    });
  }

  /**
   * A DoH request on node:http, answered through the shared DoH handler without Hono or Web
   * Request/Response objects; false for any other path.
   */
  private h1Doh(incoming: IncomingMessage, outgoing: ServerResponse): boolean {
    const target = incoming.url ?? '/';
    const queryStart = target.indexOf('?');
    const route = dohRoute(queryStart < 0 ? target : target.slice(0, queryStart));
    if (!route) return false;
    const exchange: DohExchange = {
      method: incoming.method ?? 'GET',
      search: queryStart < 0 ? '' : target.slice(queryStart + 1),
      header: (name) => headerText(incoming.headers[name]),
      body: (limit) => readBody(incoming, limit),
      client: parseAddress(this.h1Client(incoming)),
      env: this.opts.env,
    };
    const send = (reply: HttpReply) => {
      outgoing.writeHead(reply.status, Object.fromEntries(reply.headers));
      outgoing.end(reply.body);
    };
    try {
      const reply = handleDoh(this.opts.engine, route, exchange);
      if (reply instanceof Promise)
        reply.then(send, (err: unknown) => send(internalErrorReply(err)));
      else send(reply);
    } catch (err) {
      send(internalErrorReply(err));
    }
    return true;
  }

  private h1Client(incoming: IncomingMessage): string {
    return clientText(
      incoming.headers['x-forwarded-for'],
      incoming.socket?.remoteAddress,
      this.opts.trustProxy,
    );
  }

  private startH2(socket: Socket, initial: Uint8Array | null): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const session = new H2Session(socket, this.h2Handler(socket), initial, HTTP_IDLE_MS);
    this.sessions.add(session);
    socket.once('close', () => this.sessions.delete(session));
  }

  /** Requests of one HTTP/2 connection: the DoH fast path, else the app. */
  private h2Handler(socket: Socket): H2Handler {
    // The socket's peer, read once per connection (X-Forwarded-For, when trusted, per request).
    const peer = clientText(undefined, socket.remoteAddress, false);
    const peerBytes = peer ? parseAddress(peer) : null;
    return (req) => {
      const forwarded = this.opts.trustProxy ? header(req, 'x-forwarded-for') : undefined;
      const client = forwarded ? clientText(forwarded, peer, true) : peer;
      this.inflight.enter();
      let res: HttpReply | Promise<HttpReply>;
      try {
        res = this.h2Response(req, client, client === peer ? peerBytes : parseAddress(client));
      } catch (err) {
        res = internalErrorReply(err);
      }
      if (!(res instanceof Promise)) {
        this.inflight.leave();
        return res;
      }
      return res.then(
        (r) => (this.inflight.leave(), r),
        (err: unknown) => (this.inflight.leave(), internalErrorReply(err)),
      );
    };
  }

  /** A DoH request through the shared DoH handler (a cache hit at once), else the app. */
  private h2Response(
    req: H2Request,
    client: string,
    clientBytes: Uint8Array | null,
  ): HttpReply | Promise<HttpReply> {
    const queryStart = req.path.indexOf('?');
    const route = dohRoute(queryStart < 0 ? req.path : req.path.slice(0, queryStart));
    if (!route) return this.appResponse(req, client);
    const search = queryStart < 0 ? '' : req.path.slice(queryStart + 1);
    return handleDoh(
      this.opts.engine,
      route,
      new H2Exchange(req, search, clientBytes, this.opts.env),
    );
  }

  /** Anything but the fast path: a Web Request to the Hono app, its Response read whole. */
  private async appResponse(req: H2Request, client: string): Promise<HttpReply> {
    if (req.method === 'CONNECT') return textReply(405, 'method CONNECT not allowed');
    let request: Request;
    try {
      const authority = req.authority || header(req, 'host') || 'localhost';
      const headers = new Headers();
      for (const [name, value] of req.headers) headers.append(name, value);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.body !== null;
      request = new Request(`${req.scheme}://${authority}${req.path}`, {
        method: req.method,
        headers,
        body: hasBody ? req.body : null,
      });
    } catch (err) {
      return textReply(400, `bad request: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.addresses.record(request, client);
    const res = await this.app.fetch(request, this.opts.env);
    const body = new Uint8Array(await res.arrayBuffer());
    const headers: [string, string][] = [];
    res.headers.forEach((value, name) => {
      if (name !== 'set-cookie') headers.push([name, value]);
    });
    for (const cookie of res.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
    if (!res.headers.has('content-length') && req.method !== 'HEAD') {
      headers.push(['content-length', String(body.length)]);
    }
    return { status: res.status, headers, body };
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Reads until the first bytes tell HTTP/2's preface from HTTP/1.1, then hands over. */
  private sniff(socket: Socket): void {
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
      if (h2) {
        this.startH2(socket, seen);
      } else {
        socket.unshift(seen);
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
    for (const s of this.sessions) s.drain();
    this.h1.closeIdleConnections();
    await this.inflight.idle();
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    for (const s of this.sessions) s.destroy();
  }
}

/** A request header's value (names are lowercase in HTTP/2); several are joined with ", ". */
/** One HTTP/2 request as the DoH handler sees it (methods, not closures made per request). */
class H2Exchange implements DohExchange {
  readonly method: string;

  constructor(
    private readonly req: H2Request,
    readonly search: string,
    readonly client: Uint8Array | null,
    readonly env: EngineEnv,
  ) {
    this.method = req.method;
  }

  header(name: string): string | undefined {
    return header(this.req, name);
  }

  /** The HTTP/2 server has read the whole body (bounded by its own limit). */
  body(limit: number): Promise<Uint8Array | null> {
    const body = this.req.body ?? new Uint8Array(0);
    return Promise.resolve(body.length > limit ? null : body);
  }
}

function header(req: H2Request, name: string): string | undefined {
  let value: string | undefined;
  for (const [n, v] of req.headers)
    if (n === name) value = value === undefined ? v : `${value}, ${v}`;
  return value;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A request body, or null as soon as it passes `limit` bytes. */
function readBody(incoming: IncomingMessage, limit: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    incoming.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) over = true;
      else chunks.push(chunk);
    });
    incoming.on('end', () => resolve(over ? null : new Uint8Array(Buffer.concat(chunks))));
    incoming.on('error', () => resolve(null));
  });
}
