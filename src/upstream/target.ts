/**
 * Upstream URLs: DoH (`https://`, `http://`) everywhere; classic DNS over UDP or TCP
 * (`udp://host[:port]`, `tcp://host[:port]`, port 53) and DNS over TLS (`tls://host[:port]`,
 * port 853, RFC 7858) on the self-hosted server only, since Workers cannot open UDP sockets.
 * A DoT upstream's certificate must name the host; `tls://name@address[:port]` connects to the
 * address and checks the certificate for the name (RFC 8310 §8.1 authentication domain name).
 */
export type UpstreamScheme = 'https' | 'http' | 'udp' | 'tcp' | 'tls';

export interface UpstreamTarget {
  readonly scheme: UpstreamScheme;
  /** The address or host name to connect to (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** DoT: the name (or address) the certificate must carry. */
  readonly tlsName: string | null;
}

export const CLASSIC_SCHEMES: readonly UpstreamScheme[] = ['udp', 'tcp', 'tls'];

const DEFAULT_PORT: Record<UpstreamScheme, number> = {
  https: 443,
  http: 80,
  udp: 53,
  tcp: 53,
  tls: 853,
};

export type ParsedUpstream = { ok: true; target: UpstreamTarget } | { ok: false; reason: string };

/** Reads one upstream URL; the reason names the URL and what is wrong with it. */
export function parseUpstream(text: string): ParsedUpstream {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: `${text} is not a URL` };
  }
  const scheme = url.protocol.slice(0, -1) as UpstreamScheme;
  if (!(scheme in DEFAULT_PORT)) {
    return {
      ok: false,
      reason: `${text} must be an https:// or http:// DoH URL, or udp://, tcp:// or tls:// host[:port]`,
    };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (scheme === 'https' || scheme === 'http') {
    return {
      ok: true,
      target: { scheme, host, port: Number(url.port) || DEFAULT_PORT[scheme], tlsName: null },
    };
  }
  if (!host) return { ok: false, reason: `${text} has no host` };
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.password) {
    return { ok: false, reason: `${text} must be ${scheme}://host[:port] with nothing after it` };
  }
  let tlsName: string | null = null;
  if (url.username) {
    if (scheme !== 'tls') {
      return { ok: false, reason: `${text}: only tls:// takes a name@ (the certificate's name)` };
    }
    tlsName = decodeURIComponent(url.username);
  } else if (scheme === 'tls') {
    tlsName = host;
  }
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, reason: `${text}: port must be 1 to 65535` };
  }
  return { ok: true, target: { scheme, host, port, tlsName } };
}

/** Whether the URL needs a classic (non-DoH) transport. */
export function isClassicUpstream(url: string): boolean {
  return !url.startsWith('https:') && !url.startsWith('http:');
}
