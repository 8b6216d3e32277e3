import dnsPacket from 'dns-packet';
import { createSocket } from 'node:dgram';
import { type ClientHttp2Session, connect } from 'node:http2';
import { Agent, request } from 'node:http';

/** Queries and small DoH/UDP clients for the benchmark (validation, warm-up, sequential misses). */

export const PREFIX = '2001:db8:64::/96';
export const ZONE = 'bench.test';

/** The A address of h<i>.bench.test: 198.18.0.0/15, i = x * 256 + y. */
export function hostAddress(i: number): string {
  return `198.${18 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

/** The AAAA a DNS64 resolver synthesizes for h<i> under 2001:db8:64::/96. */
export function synthesized(i: number): string {
  const hex = (n: number) => n.toString(16);
  return `2001:db8:64::${hex(((18 + (i >> 16)) | (198 << 8)) & 0xffff)}:${hex(i & 0xffff)}`;
}

/** A DNS query as DoH clients send it: ID 0 (RFC 8484 §4.1), RD, EDNS(0) with 1232 octets. */
export function query(name: string, type: 'A' | 'AAAA'): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 0,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function dohPath(name: string, type: 'A' | 'AAAA' = 'AAAA'): string {
  return `/dns-query?dns=${base64url(query(name, type))}`;
}

export interface Answer {
  rcode: string;
  addresses: string[];
}

export function readAnswer(bytes: Uint8Array): Answer {
  const p = dnsPacket.decode(Buffer.from(bytes));
  const addresses: string[] = [];
  for (const a of p.answers ?? []) {
    if (a.type === 'AAAA' || a.type === 'A') addresses.push(a.data);
  }
  const rcode = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN'][(p.flags ?? 0) & 0xf] ?? 'OTHER';
  return { rcode, addresses };
}

/** Elapsed milliseconds of `fn`, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t0) / 1e6];
}

/** A DoH client over one h2c (HTTP/2 prior knowledge) connection. */
export class H2cClient {
  private readonly session: ClientHttp2Session;

  constructor(port: number) {
    this.session = connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
  }

  get(path: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({ ':path': path, accept: 'application/dns-message' });
      const chunks: Buffer[] = [];
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.setTimeout(10_000, () => req.close());
      req.end();
    });
  }

  close(): void {
    this.session.close();
  }
}

/** A DoH client over HTTP/1.1 keep-alive connections (wrangler dev speaks only HTTP/1.1). */
export class H1Client {
  private readonly agent: Agent;

  constructor(
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  get(path: string): Promise<{ status: number; body: Buffer }> {
    return this.send('GET', path, null);
  }

  /** An RFC 8484 POST of a wire query. */
  post(path: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
    return this.send('POST', path, body);
  }

  private send(
    method: string,
    path: string,
    body: Buffer | null,
  ): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/dns-message' };
      if (body) headers['content-type'] = 'application/dns-message';
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** One UDP query to 127.0.0.1:<port>; resolves with the answer bytes. */
export function udpQuery(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('UDP query timed out'));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      s.close();
      reject(err);
    });
    s.send(msg, port, '127.0.0.1');
  });
}
