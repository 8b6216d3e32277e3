import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_MESSAGE_SIZE } from '../dns/constants';
import { freshnessLifetime } from '../dns/ttl';
import { DNS_MESSAGE, plainWireQuery, wireGetParam } from '../doh/request';
import { type HttpResponse, internalError, textResponse } from './response';

/** The answer to a wire query, or why the bytes are not a DNS query. */
export type WireResult = Uint8Array | string;

/**
 * Answers a wire query for the default tenant: a cache hit synchronously, anything else as a
 * promise.
 */
export type WireAnswerer = (
  raw: Uint8Array,
  clientAddress: string,
) => WireResult | Promise<WireResult>;

/**
 * What the fast path makes of a request line: the query of an RFC 8484 GET `/dns-query?dns=`,
 * 'post' for a POST `/dns-query` with an `application/dns-message` body still to read, or null
 * for anything else — other paths, other parameters (the JSON API), other methods, a GET whose
 * `dns` is not base64url — which the app then answers, with its exact errors.
 */
export function fastDohRequest(
  method: string,
  url: string,
  contentType: string | undefined,
): Uint8Array | 'post' | null {
  if (method === 'GET') {
    const param = wireGetParam(url);
    // An empty `dns=` is the app's (400 missing dns parameter), as on the worker.
    return param ? plainWireQuery(param) : null;
  }
  if (method === 'POST' && url === '/dns-query') {
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    return type === DNS_MESSAGE ? 'post' : null;
  }
  return null;
}

/** The HTTP response for an answer (200, Cache-Control per RFC 8484 §5.1) or a reason (400). */
export function wireResponse(result: WireResult): HttpResponse {
  if (typeof result === 'string') return textResponse(400, result);
  return {
    status: 200,
    headers: [
      ['content-type', DNS_MESSAGE],
      ['content-length', String(result.length)],
      ['cache-control', `max-age=${freshnessLifetime(result)}`],
      ['access-control-allow-origin', '*'],
    ],
    body: result,
  };
}

/** The response for whatever the answerer gives, sync or not; failures become 500. */
export function answerResponse(
  answerer: WireAnswerer,
  raw: Uint8Array,
  client: string,
): HttpResponse | Promise<HttpResponse> {
  let result: WireResult | Promise<WireResult>;
  try {
    result = answerer(raw, client);
  } catch (err) {
    return internalError(err);
  }
  if (result instanceof Promise) return result.then(wireResponse, internalError);
  return wireResponse(result);
}

/**
 * The hot DoH path on node:http (HTTP/1.1, and HTTP/1.1 over TLS) without Hono and without
 * Web Request/Response objects. Returns false when the request is not the fast path's.
 */
export function fastDoh(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  answerer: WireAnswerer,
  client: string,
): boolean {
  const request = fastDohRequest(
    incoming.method ?? '',
    incoming.url ?? '',
    incoming.headers['content-type'],
  );
  if (request === null) return false;
  if (request !== 'post') {
    void send(outgoing, answerResponse(answerer, request, client));
    return true;
  }
  void readBody(incoming).then((bytes) => send(outgoing, answerPosted(answerer, bytes, client)));
  return true;
}

/**
 * The response to a POSTed query: 413 past 65535 bytes (null: the body passed that while it was
 * being read), else the answer.
 */
export function answerPosted(
  answerer: WireAnswerer,
  body: Uint8Array | null,
  client: string,
): HttpResponse | Promise<HttpResponse> {
  return body && body.length <= MAX_MESSAGE_SIZE
    ? answerResponse(answerer, body, client)
    : textResponse(413, `body exceeds ${MAX_MESSAGE_SIZE} bytes`);
}

async function send(
  outgoing: ServerResponse,
  pending: HttpResponse | Promise<HttpResponse>,
): Promise<void> {
  const res = await pending;
  outgoing.writeHead(res.status, Object.fromEntries(res.headers));
  outgoing.end(res.body);
}

/** The body, or null as soon as it passes 65535 bytes. */
function readBody(incoming: IncomingMessage): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    incoming.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_MESSAGE_SIZE) over = true;
      else chunks.push(chunk);
    });
    incoming.on('end', () => resolve(over ? null : new Uint8Array(Buffer.concat(chunks))));
    incoming.on('error', () => resolve(null));
  });
}
