import { MAX_MESSAGE_SIZE } from '../dns/constants';

export const DNS_MESSAGE = 'application/dns-message';

export type WireRequest =
  { ok: true; bytes: Uint8Array } | { ok: false; status: 400 | 405 | 413 | 415; reason: string };

/**
 * RFC 8484 §4.1: the DNS query of a GET (`?dns=` base64url, padding tolerated) or a POST
 * (`application/dns-message` body of at most 65535 bytes).
 */
export async function readWireQuery(
  req: Request,
  params: URLSearchParams = new URL(req.url).searchParams,
): Promise<WireRequest> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const param = params.get('dns');
    if (param === null || param === '') {
      return { ok: false, status: 400, reason: 'missing dns parameter' };
    }
    const bytes = decodeBase64Url(param);
    if (!bytes) return { ok: false, status: 400, reason: 'dns parameter is not base64url' };
    if (bytes.length > MAX_MESSAGE_SIZE) {
      return { ok: false, status: 413, reason: `query of ${bytes.length} bytes exceeds 65535` };
    }
    return { ok: true, bytes };
  }
  if (req.method === 'POST') {
    const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== DNS_MESSAGE) {
      return {
        ok: false,
        status: 415,
        reason: `content-type must be ${DNS_MESSAGE}, not ${type || 'missing'}`,
      };
    }
    const declared = Number(req.headers.get('content-length') ?? '0');
    if (declared > MAX_MESSAGE_SIZE) {
      return { ok: false, status: 413, reason: 'body exceeds 65535 bytes' };
    }
    const bytes = await readLimited(req, MAX_MESSAGE_SIZE);
    if (!bytes) return { ok: false, status: 413, reason: 'body exceeds 65535 bytes' };
    return { ok: true, bytes };
  }
  return { ok: false, status: 405, reason: `method ${req.method} not allowed` };
}

/** Reads a body, giving up (null) as soon as it passes `limit` bytes. */
async function readLimited(req: Request, limit: number): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The query of a `dns` parameter that is plain base64url of at most 65535 bytes, else null. */
export function plainWireQuery(param: string): Uint8Array | null {
  const bytes = decodeBase64Url(param);
  return bytes && bytes.length <= MAX_MESSAGE_SIZE ? bytes : null;
}

const WIRE_GET_PREFIX = '/dns-query?dns=';

/**
 * The `dns` value when a path and query is exactly RFC 8484's GET form, `/dns-query?dns=...` with
 * no other parameter (the request every DoH client sends, which the servers answer on a fast
 * path); else null.
 */
export function wireGetParam(pathAndQuery: string): string | null {
  return pathAndQuery.startsWith(WIRE_GET_PREFIX) && !pathAndQuery.includes('&')
    ? pathAndQuery.slice(WIRE_GET_PREFIX.length)
    : null;
}

/** The 6-bit value of each base64url character (RFC 4648 §5), -1 for the rest. */
const BASE64URL_VALUE = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  .split('')
  .forEach((ch, i) => (BASE64URL_VALUE[ch.charCodeAt(0)] = i));

/**
 * Base64url without padding (RFC 8484 §4.1 uses RFC 4648 §5 with the padding left off; up to
 * two trailing `=` are tolerated), or null when the text is not that. Runs on every GET, so it
 * decodes in one pass instead of validating with a pattern and decoding again.
 */
export function decodeBase64Url(text: string): Uint8Array | null {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  if (end % 4 === 1) return null;
  const out = new Uint8Array((end * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE64URL_VALUE[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
