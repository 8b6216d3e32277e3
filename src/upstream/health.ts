/**
 * Per-upstream health, shared by all requests of an isolate (or process): a smoothed round-trip
 * time for the hedging delay, and a cool-down that moves an upstream which keeps failing to the
 * back of the order until it has rested.
 */
export interface UpstreamState {
  /** Exponentially weighted moving average of successful round trips, ms; null before any. */
  rttMs: number | null;
  consecutiveFailures: number;
  /** Until this time (ms) the upstream is asked only after the healthy ones. */
  downUntil: number;
}

/** Failures in a row that send an upstream to the back of the order. */
export const FAILURES_BEFORE_COOLDOWN = 3;
export const COOLDOWN_MS = 30_000;
/** Hedge bounds: the next upstream starts after 2 x RTT, within these limits. */
export const HEDGE_MIN_MS = 40;
export const HEDGE_MAX_MS = 400;
export const HEDGE_DEFAULT_MS = 150;

export class UpstreamHealth {
  private readonly states = new Map<string, UpstreamState>();

  constructor(private readonly now: () => number = Date.now) {}

  state(url: string): UpstreamState {
    let s = this.states.get(url);
    if (!s) {
      s = { rttMs: null, consecutiveFailures: 0, downUntil: 0 };
      this.states.set(url, s);
    }
    return s;
  }

  /** Healthy upstreams in the operator's order, then those cooling down. */
  order(urls: readonly string[]): string[] {
    const t = this.now();
    const healthy = urls.filter((u) => this.state(u).downUntil <= t);
    const resting = urls.filter((u) => this.state(u).downUntil > t);
    return [...healthy, ...resting];
  }

  /** A request to `url` starts (a hook for metrics; the table itself does not count them). */
  attempt(_url: string): void {}

  success(url: string, rttMs: number): void {
    const s = this.state(url);
    s.rttMs = s.rttMs === null ? rttMs : s.rttMs * 0.8 + rttMs * 0.2;
    s.consecutiveFailures = 0;
    s.downUntil = 0;
  }

  /** `reason`: the failure's kind and detail, for logs and metrics (ignored by the table). */
  failure(url: string, _reason?: { kind: string; detail: string }): void {
    const s = this.state(url);
    s.consecutiveFailures++;
    if (s.consecutiveFailures >= FAILURES_BEFORE_COOLDOWN) s.downUntil = this.now() + COOLDOWN_MS;
  }

  /** How long to wait for `url` before asking the next upstream too. */
  hedgeDelay(url: string): number {
    const rtt = this.state(url).rttMs;
    if (rtt === null) return HEDGE_DEFAULT_MS;
    return Math.min(HEDGE_MAX_MS, Math.max(HEDGE_MIN_MS, Math.round(rtt * 2)));
  }
}

/** The isolate's (or process's) shared health table. */
export const sharedHealth = new UpstreamHealth();
