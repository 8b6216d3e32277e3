import { QTYPE } from '../dns/constants';
import { readU32, scanMessage, writeU32 } from '../dns/scan';
import { freshnessLifetime } from '../dns/ttl';

/** A cached response: the wire bytes as first answered, where their TTLs sit, and when. */
export interface CachedAnswer {
  readonly bytes: Uint8Array;
  /** Offsets of every TTL field except OPT's (which holds flags, not a TTL). */
  readonly ttlOffsets: readonly number[];
  /** Offset just past the question, to copy the asking client's question (its name's case). */
  readonly questionEnd: number;
  readonly storedAt: number;
  /** Seconds the answer may be served (RFC 8484 §5.1 freshness: smallest TTL or negative TTL). */
  readonly lifetime: number;
}

/** Longest time anything is kept, whatever the TTL says (as resolvers' cache-max-ttl). */
export const MAX_CACHE_TTL = 86400;

/**
 * Prepares a response for the cache (null when unparsable). A lifetime of 0 (errors, TTL 0)
 * means it is shared only by the clients that asked at the same moment, never stored.
 */
export function toCacheEntry(bytes: Uint8Array, now: number): CachedAnswer | null {
  const lifetime = Math.max(0, Math.min(freshnessLifetime(bytes), MAX_CACHE_TTL));
  return entryFrom(new Uint8Array(bytes), now, lifetime);
}

/** An entry for bytes stored at `storedAt` for `lifetime` seconds; null when unparsable. */
export function entryFrom(
  bytes: Uint8Array,
  storedAt: number,
  lifetime: number,
): CachedAnswer | null {
  const layout = scanMessage(bytes);
  if (!layout) return null;
  const ttlOffsets = layout.records.filter((r) => r.type !== QTYPE.OPT).map((r) => r.ttlOffset);
  return { bytes, ttlOffsets, questionEnd: layout.questionEnd, storedAt, lifetime };
}

export function isFresh(entry: CachedAnswer, now: number): boolean {
  return now < entry.storedAt + entry.lifetime * 1000;
}

/** The asking client's ID and question bytes (its name in its own letter case, DNS 0x20). */
export interface Asker {
  readonly id: number;
  readonly question: Uint8Array;
}

/**
 * The cached answer for one client without decoding it: a copy with the client's ID and
 * question bytes, and every TTL counted down by the entry's age in whole seconds.
 */
export function materialize(entry: CachedAnswer, asker: Asker, now: number): Uint8Array {
  const out = new Uint8Array(entry.bytes);
  out[0] = asker.id >> 8;
  out[1] = asker.id & 0xff;
  if (asker.question.length === entry.questionEnd - 12) out.set(asker.question, 12);
  const age = Math.max(0, Math.floor((now - entry.storedAt) / 1000));
  if (age > 0) {
    for (const at of entry.ttlOffsets) writeU32(out, at, Math.max(0, readU32(out, at) - age));
  }
  return out;
}
