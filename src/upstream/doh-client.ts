import { FLAG, MAX_MESSAGE_SIZE } from '../dns/constants';
import { type Packet, decodeMessage, isResponse, sameName, typeNumber } from '../dns/message';
import { answersQuestion, readPlainMessage } from '../dns/plain';
import type { MessageLayout } from '../dns/scan';
import { Deadline } from './deadline';
import { type UpstreamHealth, sharedHealth } from './health';
import { type UpstreamQuestion, encodeUpstreamQuestion } from './wire';

export type UpstreamFailureKind =
  'timeout' | 'network' | 'http' | 'malformed' | 'mismatch' | 'truncated' | 'servfail';

export interface UpstreamAnswer {
  readonly ok: true;
  readonly bytes: Uint8Array;
  /** The layout of a plain response (src/dns/plain.ts), read without decoding; else null. */
  readonly plain: MessageLayout | null;
  /** The response decoded by dns-packet (on first use, when it was plain). */
  readonly packet: Packet;
  readonly upstream: string;
}

export interface UpstreamFailure {
  readonly ok: false;
  readonly kind: UpstreamFailureKind;
  /** One line per attempt, e.g. `https://a.example/dns-query: HTTP 502`. */
  readonly detail: string;
}

export type UpstreamResult = UpstreamAnswer | UpstreamFailure;

export interface UpstreamOptions {
  readonly urls: readonly string[];
  /** Time for the whole question, across all upstreams (default 2000 ms). */
  readonly deadlineMs: number;
  readonly fetch?: typeof fetch;
  /** Health table that orders upstreams and sets the hedging delay (default: shared). */
  readonly health?: UpstreamHealth;
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
      // The hedge, when there is an upstream left to hedge with (else its timer would do nothing).
      if (next < order.length) timers.push(setTimeout(launch, health.hedgeDelay(url)));
      void askOne(url, body, q, controller.signal, doFetch).then((attempt) => {
        running--;
        controllers.delete(controller);
        if (done) return;
        if (attempt.ok) {
          const rcode = attempt.bytes[3]! & 0xf;
          if (rcode !== 2 && rcode !== 5) {
            health.success(url, Date.now() - started);
            return finish(attempt);
          }
          health.failure(url);
          errorAnswer = attempt;
          failures.push(`${url}: ${rcode === 2 ? 'SERVFAIL' : 'REFUSED'}`);
          lastKind = 'servfail';
        } else {
          health.failure(url);
          failures.push(`${url}: ${attempt.detail}`);
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
): Promise<Attempt> {
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
    return validate(url, bytes, body, q);
  } catch (err) {
    if (signal.aborted) return { ok: false, kind: 'timeout', detail: 'aborted' };
    return { ok: false, kind: 'network', detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * An upstream answer is data only if it is a response to exactly our question (RFC 8484 §4.1).
 * A plain response that passes every check is taken without decoding; anything else is decoded
 * and checked in the same order, so both ways reach the same verdict.
 */
function validate(url: string, bytes: Uint8Array, body: Uint8Array, q: UpstreamQuestion): Attempt {
  if (bytes.length > MAX_MESSAGE_SIZE || bytes.length < 12) {
    return { ok: false, kind: 'malformed', detail: `body of ${bytes.length} bytes` };
  }
  const plain = readPlainMessage(bytes);
  if (
    plain &&
    (plain.flags & (FLAG.QR | FLAG.TC)) === FLAG.QR &&
    plain.id === 0 &&
    plain.qdcount === 1 &&
    answersQuestion(bytes, body.subarray(12))
  ) {
    return upstreamAnswer(url, bytes, plain, null);
  }
  const decoded = decodeMessage(bytes);
  if (!decoded.ok) return { ok: false, kind: 'malformed', detail: decoded.reason };
  const packet = decoded.packet;
  if (!isResponse(packet)) return { ok: false, kind: 'malformed', detail: 'not a response' };
  if ((packet.id ?? 0) !== 0) {
    return { ok: false, kind: 'mismatch', detail: `ID ${packet.id} instead of 0` };
  }
  const question = packet.questions?.[0];
  if (
    packet.questions?.length !== 1 ||
    !question ||
    !sameName(question.name, q.name) ||
    typeNumber(question.type) !== typeNumber(q.type)
  ) {
    return { ok: false, kind: 'mismatch', detail: 'answer is for another question' };
  }
  if (((packet.flags ?? 0) & FLAG.TC) !== 0) {
    return { ok: false, kind: 'truncated', detail: 'truncated (TC=1)' };
  }
  return upstreamAnswer(url, bytes, plain, packet);
}

function upstreamAnswer(
  url: string,
  bytes: Uint8Array,
  plain: MessageLayout | null,
  packet: Packet | null,
): UpstreamAnswer {
  return new LazyUpstreamAnswer(url, bytes, plain, packet);
}

/**
 * An answer whose dns-packet decoding waits for its first use. A class rather than an object
 * literal with a getter: V8 builds the literal with an accessor slowly, on every upstream answer.
 */
class LazyUpstreamAnswer implements UpstreamAnswer {
  readonly ok = true;

  constructor(
    readonly upstream: string,
    readonly bytes: Uint8Array,
    readonly plain: MessageLayout | null,
    private decoded: Packet | null,
  ) {}

  get packet(): Packet {
    if (!this.decoded) {
      // A plain message always decodes (src/dns/plain.ts).
      const d = decodeMessage(this.bytes);
      if (!d.ok) throw new Error(`plain upstream answer did not decode: ${d.reason}`);
      this.decoded = d.packet;
    }
    return this.decoded;
  }
}
