import type { RrlSettings } from './config';

/** What to do with one UDP response. */
export type RrlAction = 'send' | 'drop' | 'slip';

/** What the limiter did, for metrics (the counters only grow). */
export interface RrlCounts {
  /** Responses over the limit: dropped + slipped. */
  limited: number;
  dropped: number;
  /** Sent truncated (TC=1) instead, so a real client retries over TCP. */
  slipped: number;
}

/** Buckets remembered before the quiet ones are swept. */
const MAX_BUCKETS = 100_000;

interface Bucket {
  /** Responses it may still send; negative while it is being limited. */
  credit: number;
  /** When credit was last brought up to date (ms). */
  at: number;
  /** Limited responses so far, for the slip count. */
  limited: number;
}

/**
 * UDP response rate limiting in the spirit of BIND's RRL (`rate-limit { responses-per-second;
 * window; slip; }`), by client network only: IPv4 /24, IPv6 /56. Each network earns
 * `responsesPerSecond` credits a second, holding at most one second's worth; every response
 * spends one. Over the limit the debt may grow to `window` seconds' worth, so a flood must stop
 * for up to `window` seconds before its network is answered again. Of the limited responses every
 * `slip`-th goes out truncated (TC=1, no records: a real client retries over TCP, which a spoofed
 * one cannot), the rest are dropped; slip 0 drops them all. Only UDP: TCP cannot be spoofed.
 * Loopback is exempt (BIND's `exempt-clients`): it cannot be spoofed from outside the host, and
 * local tools (a stub resolver, a benchmark) may ask as fast as they like.
 */
export class ResponseRateLimiter {
  readonly counts: RrlCounts = { limited: 0, dropped: 0, slipped: 0 };
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: RrlSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.settings.responsesPerSecond > 0;
  }

  /** Decides for one response to `client` (4 or 16 address bytes). */
  decide(client: Uint8Array): RrlAction {
    const rate = this.settings.responsesPerSecond;
    if (rate <= 0 || isLoopback(client)) return 'send';
    const key = networkKey(client);
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      b = { credit: rate, at: now, limited: 0 };
      this.buckets.set(key, b);
    } else {
      b.credit = Math.min(rate, b.credit + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    b.credit = Math.max(b.credit - 1, -rate * this.settings.window);
    if (b.credit >= 0) {
      b.limited = 0;
      return 'send';
    }
    this.counts.limited++;
    b.limited++;
    const slip = this.settings.slip;
    if (slip > 0 && b.limited % slip === 0) {
      this.counts.slipped++;
      return 'slip';
    }
    this.counts.dropped++;
    return 'drop';
  }

  /** Forgets networks whose credit is full again (they would start afresh anyway). */
  private sweep(now: number): void {
    const rate = this.settings.responsesPerSecond;
    for (const [key, b] of this.buckets) {
      if (b.credit + ((now - b.at) / 1000) * rate >= rate) this.buckets.delete(key);
    }
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}

/** The client's network: the first 3 octets of IPv4 (/24), the first 7 of IPv6 (/56). */
function networkKey(client: Uint8Array): string {
  const n = client.length === 4 ? 3 : 7;
  let key = client.length === 4 ? '4:' : '6:';
  for (let i = 0; i < n; i++) key += `${client[i]!}.`;
  return key;
}

/** 127.0.0.0/8 or ::1. */
function isLoopback(client: Uint8Array): boolean {
  if (client.length === 4) return client[0] === 127;
  for (let i = 0; i < 15; i++) if (client[i] !== 0) return false;
  return client[15] === 1;
}
