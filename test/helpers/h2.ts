/** Pieces for tests of the HTTP/2 server (src/node/h2). */

/** A request header block: every field a literal without indexing, with a literal name. */
export function literalBlock(fields: readonly (readonly [string, string])[]): Uint8Array {
  const out: number[] = [];
  const str = (s: string) => out.push(s.length, ...new TextEncoder().encode(s));
  for (const [name, value] of fields) {
    out.push(0);
    str(name);
    str(value);
  }
  return Uint8Array.from(out);
}

/** The parts as one array. */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
