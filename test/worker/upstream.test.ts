import * as dnsPacket from 'dns-packet';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { literalName } from '../../src/dns/name';
import { queryUpstreams, type UpstreamResult } from '../../src/upstream/doh-client';
import { Deadline } from '../../src/upstream/deadline';
import { COOLDOWN_MS, UpstreamHealth } from '../../src/upstream/health';
import type { UpstreamQuestion } from '../../src/upstream/question';

type Behaviour = 'ok' | 'nxdomain' | 'servfail' | 'http500' | 'hang';
interface Script {
  delay: number;
  then: Behaviour;
}

/** A fetch whose upstreams answer after a delay with a scripted behaviour; logs each request. */
function scripted(scripts: Record<string, Script>) {
  const log: { url: string; aborted: boolean }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const entry = { url, aborted: false };
    log.push(entry);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const s = scripts[url]!;
      const q = dnsPacket.decode(Buffer.from(await new Response(init?.body).arrayBuffer()));
      await new Promise<void>((resolve, reject) => {
        const timer = s.then === 'hang' ? null : setTimeout(resolve, s.delay);
        init?.signal?.addEventListener('abort', () => {
          if (timer) clearTimeout(timer);
          entry.aborted = true;
          reject(new Error('aborted'));
        });
      });
      if (s.then === 'http500') return new Response('oops', { status: 500 });
      const rcode = { ok: 0, nxdomain: 3, servfail: 2 }[s.then as 'ok'];
      const answers: dnsPacket.Answer[] =
        s.then === 'ok'
          ? [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '192.0.2.1' }]
          : [];
      const res = dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE | rcode,
        questions: q.questions,
        answers,
      });
      return new Response(res, { headers: { 'content-type': 'application/dns-message' } });
    } finally {
      inFlight--;
    }
  };
  return { fetch: fetchFn as typeof fetch, log, maxInFlight: () => maxInFlight };
}

const Q: UpstreamQuestion = {
  name: literalName('race.test'),
  type: 1,
  edns: false,
  dnssecOk: false,
  checkingDisabled: false,
  padding: false,
};
const [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'].map((x) => `https://${x}.test/dns-query`) as [
  string,
  string,
  string,
  string,
  string,
];

/** Asks Q of `urls` through the scripted fetch, with a fresh health table unless one is given. */
function ask(
  s: { fetch: typeof fetch },
  urls: string[],
  health = new UpstreamHealth(),
  deadlineMs = 2000,
): Promise<UpstreamResult> {
  return queryUpstreams(Q, { urls, deadlineMs, fetch: s.fetch, health });
}

function winner(r: UpstreamResult): string {
  return r.ok ? `${r.upstream} rcode ${r.layout.flags & 0xf}` : `failed ${r.kind}`;
}

describe('upstream racing (hedged requests)', () => {
  it('a fast SERVFAIL does not win; the slower NOERROR does', async () => {
    const s = scripted({ [A]: { delay: 5, then: 'servfail' }, [B]: { delay: 60, then: 'ok' } });
    const r = await ask(s, [A, B]);
    expect(winner(r)).toBe(`${B} rcode 0`);
  });

  it('a fast HTTP error does not win; NXDOMAIN is a valid answer and does', async () => {
    const s = scripted({
      [A]: { delay: 5, then: 'http500' },
      [B]: { delay: 20, then: 'nxdomain' },
    });
    const r = await ask(s, [A, B]);
    expect(winner(r)).toBe(`${B} rcode 3`);
  });

  it('asks only the first upstream when it answers within the hedging delay', async () => {
    const s = scripted({ [A]: { delay: 10, then: 'ok' }, [B]: { delay: 10, then: 'ok' } });
    const r = await ask(s, [A, B]);
    expect(winner(r)).toBe(`${A} rcode 0`);
    expect(s.log.map((l) => l.url)).toEqual([A]);
  });

  it('hedges to the next upstream when the first hangs, and aborts the loser', async () => {
    const s = scripted({ [A]: { delay: 0, then: 'hang' }, [B]: { delay: 10, then: 'ok' } });
    const r = await ask(s, [A, B]);
    expect(winner(r)).toBe(`${B} rcode 0`);
    expect(s.log).toEqual([
      { url: A, aborted: true },
      { url: B, aborted: false },
    ]);
  });

  it('returns SERVFAIL only when no upstream did better before the deadline', async () => {
    const s = scripted({ [A]: { delay: 5, then: 'servfail' }, [B]: { delay: 5, then: 'http500' } });
    const r = await ask(s, [A, B]);
    expect(winner(r)).toBe(`${A} rcode 2`);
  });

  it('keeps at most 3 requests in flight for one question', async () => {
    const hang = { delay: 0, then: 'hang' as const };
    const s = scripted({ [A]: hang, [B]: hang, [C]: hang, [D]: hang, [E]: hang });
    const r = await ask(s, [A, B, C, D, E], new UpstreamHealth(), 700);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.kind).toBe('timeout');
    expect(s.maxInFlight()).toBe(3);
    expect(s.log.map((l) => l.url)).toEqual([A, B, C]);
    expect(!r.ok && r.detail).toBe(`no answer within 700 ms; ${D}: not asked; ${E}: not asked`);
  });
});

describe('upstream health', () => {
  it('moves an upstream that failed 3 times in a row to the back, until it has rested', async () => {
    let now = 1_000_000;
    const health = new UpstreamHealth(() => now);
    const failing = scripted({ [A]: { delay: 1, then: 'http500' }, [B]: { delay: 1, then: 'ok' } });
    for (let i = 0; i < 3; i++) {
      await ask(failing, [A, B], health);
    }
    expect(health.order([A, B])).toEqual([B, A]);
    const healthy = scripted({ [A]: { delay: 1, then: 'ok' }, [B]: { delay: 1, then: 'ok' } });
    const r = await ask(healthy, [A, B], health);
    expect(winner(r)).toBe(`${B} rcode 0`);
    expect(healthy.log.map((l) => l.url)).toEqual([B]);
    now += COOLDOWN_MS + 1;
    expect(health.order([A, B])).toEqual([A, B]);
  });

  it('sets the hedging delay from the measured round trip, within bounds', () => {
    const health = new UpstreamHealth();
    expect(health.hedgeDelay(A)).toBe(150);
    health.success(A, 100);
    expect(health.hedgeDelay(A)).toBe(200);
    health.success(B, 5);
    expect(health.hedgeDelay(B)).toBe(40);
    health.success(C, 1000);
    expect(health.hedgeDelay(C)).toBe(400);
  });
});

describe('Deadline (one timer for the questions of a query)', () => {
  it('calls every question still waiting when it passes, and none that stopped', async () => {
    const deadline = new Deadline(5);
    const called: string[] = [];
    const expired = new Promise<void>((resolve) => {
      deadline.watch(() => called.push('A'));
      const stopAaaa = deadline.watch(() => called.push('AAAA'));
      deadline.watch(resolve);
      stopAaaa();
    });
    await expired;
    expect(called).toEqual(['A']);
  });

  it('still expires for a question that watches after all others stopped', async () => {
    const deadline = new Deadline(5);
    deadline.watch(() => {})();
    await new Promise<void>((resolve) => deadline.watch(resolve));
  });
});
