import { FLAG, MAX_MESSAGE_SIZE } from '../dns/constants';
import { type Packet, decodeMessage, isResponse, sameName, typeNumber } from '../dns/message';
import { type UpstreamQuestion, encodeUpstreamQuestion } from './wire';

export type UpstreamFailureKind =
  'timeout' | 'network' | 'http' | 'malformed' | 'mismatch' | 'truncated' | 'servfail';

export interface UpstreamAnswer {
  readonly ok: true;
  readonly bytes: Uint8Array;
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
  /** Time for the whole question, across failover (default 2000 ms). */
  readonly deadlineMs: number;
  readonly fetch?: typeof fetch;
}

export const DEFAULT_DEADLINE_MS = 2000;

type Attempt = UpstreamAnswer | { ok: false; kind: UpstreamFailureKind; detail: string };

/**
 * Asks the upstream DoH resolvers one question, in order, failing over on network errors, HTTP
 * errors, undecodable bodies, wrong questions, truncation and SERVFAIL/REFUSED; an upstream
 * that failed is never answered from as if it were data. A SERVFAIL/REFUSED response is only
 * returned when every upstream gave one.
 */
export async function queryUpstreams(
  q: UpstreamQuestion,
  opts: UpstreamOptions,
): Promise<UpstreamResult> {
  const body = encodeUpstreamQuestion(q);
  const deadline = Date.now() + opts.deadlineMs;
  const failures: string[] = [];
  let lastKind: UpstreamFailureKind = 'network';
  let errorAnswer: UpstreamAnswer | null = null;
  for (let i = 0; i < opts.urls.length; i++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      lastKind = 'timeout';
      break;
    }
    // Each upstream left gets a fair share of what remains, so one that hangs cannot eat it all.
    const budget = Math.ceil(remaining / (opts.urls.length - i));
    const url = opts.urls[i]!;
    const attempt = await askOne(url, body, q, budget, opts.fetch ?? fetch);
    if (attempt.ok) {
      const rcode = (attempt.packet.flags ?? 0) & 0xf;
      if (rcode === 2 || rcode === 5) {
        errorAnswer = attempt;
        failures.push(`${url}: ${rcode === 2 ? 'SERVFAIL' : 'REFUSED'}`);
        lastKind = 'servfail';
        continue;
      }
      return attempt;
    }
    failures.push(`${url}: ${attempt.detail}`);
    lastKind = attempt.kind;
  }
  if (errorAnswer) return errorAnswer;
  if (failures.length === 0) failures.push('deadline passed before any upstream was asked');
  return { ok: false, kind: lastKind, detail: failures.join('; ') };
}

async function askOne(
  url: string,
  body: Uint8Array,
  q: UpstreamQuestion,
  budgetMs: number,
  doFetch: typeof fetch,
): Promise<Attempt> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), budgetMs);
  try {
    const res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' },
      body,
      signal: controller.signal,
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
    if (controller.signal.aborted) {
      return { ok: false, kind: 'timeout', detail: `no answer within ${budgetMs} ms` };
    }
    return { ok: false, kind: 'network', detail: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** An upstream answer is data only if it is a response to exactly our question (RFC 8484 §4.1). */
function validate(url: string, bytes: Uint8Array, q: UpstreamQuestion): Attempt {
  if (bytes.length > MAX_MESSAGE_SIZE || bytes.length < 12) {
    return { ok: false, kind: 'malformed', detail: `body of ${bytes.length} bytes` };
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
  return { ok: true, bytes, packet, upstream: url };
}
