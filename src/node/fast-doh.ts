import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { MAX_MESSAGE_SIZE } from '../dns/constants';
import { freshnessLifetime } from '../dns/ttl';
import { DNS_MESSAGE, decodeBase64Url } from '../doh/request';

/** Answers a wire query for the default tenant: the bytes, or why they are not a DNS query. */
export type WireAnswerer = (raw: Uint8Array, clientAddress: string) => Promise<Uint8Array | string>;

type Incoming = IncomingMessage | Http2ServerRequest;
type Outgoing = ServerResponse | Http2ServerResponse;

/**
 * The hot DoH path on Node without Hono and without Web Request/Response objects: RFC 8484
 * GET `/dns-query?dns=` and POST `/dns-query` for the default tenant, answered by the same
 * engine (`answerWire()`: the cache-hit path, else decode and resolve). Returns false for
 * anything else — other paths, other parameters (the JSON API), other methods, a GET whose `dns`
 * is not base64url — which the app then answers, with its exact errors.
 */
export function fastDoh(
  incoming: Incoming,
  outgoing: Outgoing,
  answerer: WireAnswerer,
  clientOf: (incoming: Incoming) => string,
): boolean {
  const url = incoming.url ?? '';
  if (incoming.method === 'GET') {
    if (!url.startsWith('/dns-query?dns=')) return false;
    const param = url.slice('/dns-query?dns='.length);
    if (param.includes('&')) return false;
    const bytes = decodeBase64Url(param);
    if (!bytes || bytes.length > MAX_MESSAGE_SIZE) return false;
    void respond(outgoing, answerer(bytes, clientOf(incoming)));
    return true;
  }
  if (incoming.method === 'POST' && url === '/dns-query') {
    const type = String(incoming.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (type.toLowerCase() !== DNS_MESSAGE) return false;
    void readBody(incoming).then((bytes) => {
      if (!bytes) return fail(outgoing, 413, 'body exceeds 65535 bytes');
      return respond(outgoing, answerer(bytes, clientOf(incoming)));
    });
    return true;
  }
  return false;
}

async function respond(outgoing: Outgoing, pending: Promise<Uint8Array | string>): Promise<void> {
  let bytes: Uint8Array | string;
  try {
    bytes = await pending;
  } catch (err) {
    return fail(
      outgoing,
      500,
      `internal error: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (typeof bytes === 'string') return fail(outgoing, 400, bytes);
  outgoing.writeHead(200, {
    'content-type': DNS_MESSAGE,
    'content-length': bytes.length,
    'cache-control': `max-age=${freshnessLifetime(bytes)}`,
    'access-control-allow-origin': '*',
  });
  outgoing.end(bytes);
}

function fail(outgoing: Outgoing, status: number, reason: string): void {
  const body = `${reason}\n`;
  outgoing.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'access-control-allow-origin': '*',
  });
  outgoing.end(body);
}

/** The body, or null as soon as it passes 65535 bytes. */
function readBody(incoming: Incoming): Promise<Uint8Array | null> {
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
