/** What the client setup page and the Apple profile show about one tenant. */
export interface SetupInfo {
  /** The tenant id, or null for the default tenant (`/dns-query`). */
  readonly tenantId: string | null;
  /** A human name for the service (the tenant record's `name`, or the host name). */
  readonly displayName: string;
  /** The full DoH URL clients configure, e.g. https://doh.example/t/acme/dns-query. */
  readonly dohUrl: string;
  /** The NAT64 prefixes in use, e.g. ['2001:db8:64::/96']. */
  readonly prefixes: readonly string[];
  /** The host the page was served from, e.g. doh.example. */
  readonly host: string;
  /**
   * What the server serves besides DoH. Absent: a Cloudflare Worker, which speaks HTTP only
   * (no classic DNS, no DoT).
   */
  readonly transports?: ServedTransports;
  /** The NAT64 gateways behind the tenant's prefixes and what they last said (issue 15). */
  readonly gateways?: readonly GatewayView[];
}

/** One gateway on the setup page. */
export interface GatewayView {
  readonly name: string;
  /** up, down (silent past the tenant's gatewayTimeout), stopped (said so), unknown (never reported). */
  readonly state: string;
  /** ISO 8601 time of its last report, or null. */
  readonly lastReport: string | null;
  readonly prefixes: readonly string[];
}

/** The self-hosted server's other transports, for the page's "what works here". */
export interface ServedTransports {
  /** Classic DNS port (UDP and TCP). */
  readonly dnsPort: number;
  /** DNS over TLS port, or null when DoT is not served (no TLS certificate configured). */
  readonly dotPort: number | null;
}
