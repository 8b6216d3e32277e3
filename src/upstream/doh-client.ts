import { FLAG, MAX_MESSAGE_SIZE } from '../dns/constants';
import { readName, sameName } from '../dns/name';
import { checkMessage } from '../dns/records';
import { type MessageLayout, readU16 } from '../dns/scan';
import { Deadline } from './deadline';
import { type UpstreamHealth, sharedHealth } from './health';
import { type UpstreamQuestion, encodeUpstreamQuestion } from './question';

export type UpstreamFailureKind =
  'timeout' | 'network' | 'http' | 'malformed' | 'mismatch' | 'truncated' | 'servfail';

export interface UpstreamAnswer {
  readonly ok: true;
  readonly bytes: Uint8Array;
  /** Where its records sit; every name in it is well formed (src/dns/records.ts). */
  readonly layout: MessageLayout;
  readonly upstream: string;
}

export interface UpstreamFailure {
  readonly ok: false;
  readonly kind: UpstreamFailureKind;
  /** One line per attempt, e.g. `https://a.example/dns-query: HTTP 502`. */
  readonly detail: string;
}

export type UpstreamResult = UpstreamAnswer | UpstreamFailure;

/** Why one exchange with one upstream gave no answer. */
export interface ExchangeFailure {
  readonly ok: false;
  readonly kind: UpstreamFailureKind;
  readonly detail: string;
}

/**
 * One query to one non-DoH upstream (`udp:`, `tcp:`, `tls:`). `query` has ID 0; the exchanger
 * sends it with its own random ID (RFC 5452 §9.2), accepts only an answer with that ID, and
 * returns it with the ID set back to 0. The Node server supplies these (src/node/); Workers
 * have none, since they cannot open UDP sockets.
 */
export type Exchanger = (
  url: string,
  query: Uint8Array,
  signal: AbortSignal,
) => Promise<Uint8Array | ExchangeFailure>;

/** Exchangers by URL scheme with its colon, e.g. `udp:`. */
export type Exchangers = Readonly<Record<string, Exchanger>>;

export interface UpstreamOptions {
  readonly urls: readonly string[];
  /** Time for the whole question, across all upstreams (default 2000 ms). */
  readonly deadlineMs: number;
  readonly fetch?: typeof fetch;
  /** Health table that orders upstreams and sets the hedging delay (default: shared). */
  readonly health?: UpstreamHealth;
  /** Transports for udp://, tcp:// and tls:// upstreams (none: DoH only). */
  readonly exchangers?: Exchangers;
}

/**
 * The longest reason kept per upstream: a failure's EDE text lists every upstream of both
 * questions of a DNS64 query, and each keeps its cause within this.
 */
export const MAX_REASON_LENGTH = 160;

function clip(reason: string): string {
  return reason.length <= MAX_REASON_LENGTH
    ? reason
    : `${reason.slice(0, MAX_REASON_LENGTH - 3)}...`;
}

export const DEFAULT_DEADLINE_MS = 2000;

/**
 * Upstreams asked at once for one question. A DNS64 query asks two questions (A and AAAA), so
 * this keeps a request within the Workers limit of 6 simultaneous outgoing connections.
 */
export const MAX_PARALLEL_PER_QUESTION = 3;

type Attempt = UpstreamAnswer | { ok: false; kind: UpstreamFailureKind; detail: string };

/**
 * Asks the upstream DoH resolvers one question, hedged: the healthiest upstream first, the next
 * one when the first has not answered within its hedging delay or has failed. Only a 2xx DNS
 * response to exactly this question with NOERROR or NXDOMAIN can win; network and HTTP errors,
 * undecodable bodies, wrong questions, truncation and SERVFAIL/REFUSED never do (a fast failure
 * starts the next upstream at once). A SERVFAIL/REFUSED answer is returned only when no upstream
 * did better before the deadline. Losers are aborted. Questions asked together may share one
 * `deadline` (of `opts.deadlineMs`); by default the question has its own.
 */
export function queryUpstreams(
  q: UpstreamQuestion,
  opts: UpstreamOptions,
  deadline: Deadline = new Deadline(opts.deadlineMs),
): Promise<UpstreamResult> {
  const body = encodeUpstreamQuestion(q);
  const health = opts.health ?? sharedHealth;
  const order = health.order(opts.urls);
  const doFetch = opts.fetch ?? fetch;
  return new Promise<UpstreamResult>((resolve) => {
    const failures: string[] = [];
    /** Requests still in flight: aborted when the question is settled. */
    const controllers = new Set<AbortController>();
    const timers: ReturnType<typeof setTimeout>[] = [];
    let lastKind: UpstreamFailureKind = 'network';
    let errorAnswer: UpstreamAnswer | null = null;
    let next = 0;
    let running = 0;
    let done = false;
    let unwatch = () => {};

    const finish = (result: UpstreamResult) => {
      if (done) return;
      done = true;
      unwatch();
      for (const t of timers) clearTimeout(t);
      for (const c of controllers) c.abort();
      resolve(result);
    };
    const giveUp = (kind: UpstreamFailureKind) => {
      if (errorAnswer) return finish(errorAnswer);
      if (failures.length === 0) failures.push('no upstream answered');
      finish({ ok: false, kind, detail: failures.join('; ') });
    };

    const launch = () => {
      if (done || next >= order.length || running >= MAX_PARALLEL_PER_QUESTION) return;
      const url = order[next++]!;
      running++;
      const controller = new AbortController();
      controllers.add(controller);
      const started = Date.now();
      health.attempt(url);
      // The hedge, when there is an upstream left to hedge with (else its timer would do nothing).
      if (next < order.length) timers.push(setTimeout(launch, health.hedgeDelay(url)));
      void askOne(url, body, q, controller.signal, doFetch, opts.exchangers).then((attempt) => {
        running--;
        controllers.delete(controller);
        if (done) return;
        if (attempt.ok) {
          const rcode = attempt.bytes[3]! & 0xf;
          if (rcode !== 2 && rcode !== 5) {
            health.success(url, Date.now() - started);
            return finish(attempt);
          }
          const detail = rcode === 2 ? 'SERVFAIL' : 'REFUSED';
          health.failure(url, { kind: 'servfail', detail });
          errorAnswer = attempt;
          failures.push(`${url}: ${detail}`);
          lastKind = 'servfail';
        } else {
          health.failure(url, attempt);
          failures.push(`${url}: ${clip(attempt.detail)}`);
          lastKind = attempt.kind;
        }
        if (next < order.length) launch();
        else if (running === 0) giveUp(lastKind);
      });
    };

    unwatch = deadline.watch(() => {
      for (let i = next; i < order.length; i++) failures.push(`${order[i]}: not asked`);
      failures.unshift(`no answer within ${opts.deadlineMs} ms`);
      giveUp(errorAnswer ? 'servfail' : 'timeout');
    });
    if (order.length === 0) giveUp('network');
    else launch();
  });
}

async function askOne(
  url: string,
  body: Uint8Array,
  q: UpstreamQuestion,
  signal: AbortSignal,
  doFetch: typeof fetch,
  exchangers: Exchangers | undefined,
): Promise<Attempt> {
  if (!url.startsWith('https:') && !url.startsWith('http:')) {
    return askClassic(url, body, q, signal, exchangers);
  }
  try {
    const res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' },
      body,
      signal,
    });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel();
      return { ok: false, kind: 'http', detail: `HTTP ${res.status}` };
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.toLowerCase().startsWith('application/dns-message')) {
      await res.body?.cancel();
      return { ok: false, kind: 'malformed', detail: `content-type ${type || 'missing'}` };
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    return validate(url, bytes, q);
  } catch (err) {
    if (signal.aborted) return { ok: false, kind: 'timeout', detail: 'aborted' };
    return { ok: false, kind: 'network', detail: err instanceof Error ? err.message : String(err) };
  }
}

/** One question over UDP, TCP or DoT, by the exchanger for the URL's scheme. */
async function askClassic(
  url: string,
  body: Uint8Array,
  q: UpstreamQuestion,
  signal: AbortSignal,
  exchangers: Exchangers | undefined,
): Promise<Attempt> {
  const scheme = url.slice(0, url.indexOf(':') + 1);
  const exchange = exchangers?.[scheme];
  if (!exchange) {
    return { ok: false, kind: 'network', detail: `${scheme}// is not available here (DoH only)` };
  }
  try {
    const bytes = await exchange(url, body, signal);
    return bytes instanceof Uint8Array ? validate(url, bytes, q) : bytes;
  } catch (err) {
    if (signal.aborted) return { ok: false, kind: 'timeout', detail: 'aborted' };
    return { ok: false, kind: 'network', detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * An upstream answer is data only if it is a well-formed response to exactly our question
 * (RFC 8484 §4.1): ID 0, one question with our name (RFC 4343 case folding) and type, not
 * truncated. Read on the wire, names octet for octet.
 */
function validate(url: string, bytes: Uint8Array, q: UpstreamQuestion): Attempt {
  if (bytes.length > MAX_MESSAGE_SIZE || bytes.length < 12) {
    return { ok: false, kind: 'malformed', detail: `body of ${bytes.length} bytes` };
  }
  const layout = checkMessage(bytes);
  if (!layout) return { ok: false, kind: 'malformed', detail: 'malformed DNS message' };
  if ((layout.flags & FLAG.QR) === 0) {
    return { ok: false, kind: 'malformed', detail: 'not a response' };
  }
  if (layout.id !== 0) {
    return { ok: false, kind: 'mismatch', detail: `ID ${layout.id} instead of 0` };
  }
  const name = layout.qdcount === 1 ? readName(bytes, 12) : null;
  if (!name || !sameName(name.name, q.name) || readU16(bytes, name.end) !== q.type) {
    return { ok: false, kind: 'mismatch', detail: 'answer is for another question' };
  }
  if ((layout.flags & FLAG.TC) !== 0) {
    return { ok: false, kind: 'truncated', detail: 'truncated (TC=1)' };
  }
  return new Answered(url, bytes, layout);
}

/** A class rather than an object literal: V8 builds these faster on every upstream answer. */
class Answered implements UpstreamAnswer {
  readonly ok = true;

  constructor(
    readonly upstream: string,
    readonly bytes: Uint8Array,
    readonly layout: MessageLayout,
  ) {}
}
