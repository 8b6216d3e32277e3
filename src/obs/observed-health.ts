import { FAILURES_BEFORE_COOLDOWN, COOLDOWN_MS, UpstreamHealth } from '../upstream/health';
import { type Logger, RateLimitedLog, redactUrl } from './log';

/** Metrics hooks of upstream requests (the Node server's Prometheus counters). */
export interface UpstreamHooks {
  attempt?(upstream: string): void;
  success?(upstream: string, ms: number): void;
  failure?(upstream: string, kind: string): void;
  /** Up (true) or cooling down (false), on every change. */
  health?(upstream: string, up: boolean): void;
}

/** At most one failure line per upstream per this many ms (the rest are counted in the next). */
export const FAILURE_LOG_INTERVAL_MS = 30_000;

/**
 * The upstream health table with a voice: failures logged (rate-limited per upstream), every
 * change between healthy and cooling down logged, requests and outcomes handed to metrics, and
 * the time of the last answer kept for readiness.
 */
export class ObservedHealth extends UpstreamHealth {
  /** When an upstream last answered (ms since the epoch), null before any. */
  lastAnswerAt: number | null = null;
  private readonly failureLog: RateLimitedLog;

  constructor(
    private readonly log: () => Logger,
    private readonly hooks: UpstreamHooks = {},
    private readonly clock: () => number = Date.now,
  ) {
    super(clock);
    this.failureLog = new RateLimitedLog(FAILURE_LOG_INTERVAL_MS, clock);
  }

  override attempt(url: string): void {
    this.hooks.attempt?.(url);
  }

  override success(url: string, rttMs: number): void {
    const wasDown = this.state(url).consecutiveFailures >= FAILURES_BEFORE_COOLDOWN;
    super.success(url, rttMs);
    this.lastAnswerAt = this.clock();
    this.hooks.success?.(url, rttMs);
    if (wasDown) {
      this.hooks.health?.(url, true);
      this.log().info(
        { event: 'upstream-up', upstream: redactUrl(url) },
        'upstream up: answered again',
      );
    }
  }

  override failure(url: string, reason?: { kind: string; detail: string }): void {
    super.failure(url, reason);
    const kind = reason?.kind ?? 'network';
    this.hooks.failure?.(url, kind);
    const shown = redactUrl(url);
    this.failureLog.maybe(url, (suppressed) =>
      this.log().warn(
        {
          event: 'upstream-failure',
          upstream: shown,
          kind,
          detail: reason?.detail ?? '',
          suppressed,
        },
        `upstream failed: ${shown}: ${reason?.detail ?? kind}`,
      ),
    );
    if (this.state(url).consecutiveFailures === FAILURES_BEFORE_COOLDOWN) {
      this.hooks.health?.(url, false);
      this.log().warn(
        { event: 'upstream-down', upstream: shown, failures: FAILURES_BEFORE_COOLDOWN },
        `upstream down: ${FAILURES_BEFORE_COOLDOWN} failures in a row, asked only after the others for ${COOLDOWN_MS / 1000} s`,
      );
    }
  }

  /** Whether an upstream answered within the last `withinMs`. */
  answeredWithin(withinMs: number): boolean {
    return this.lastAnswerAt !== null && this.clock() - this.lastAnswerAt <= withinMs;
  }
}
