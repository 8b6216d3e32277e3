/** Test-only text parsing (the package itself has no parser): IPv6 with `::` and a dotted tail. */
export function ip4(text: string): number {
  const o = text.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${text}`);
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

export function ip6(text: string): Uint8Array {
  let t = text;
  const dot = t.lastIndexOf(':');
  if (t.slice(dot + 1).includes('.')) {
    const v4 = ip4(t.slice(dot + 1));
    t = `${t.slice(0, dot + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = '', rest] = t.split('::');
  const a = head ? head.split(':') : [];
  const b = rest ? rest.split(':') : [];
  const groups = rest === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill('0'), ...b];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${text}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
