import { DOMParser as XmlDomParser } from '@xmldom/xmldom';
import { Hono, type Context } from 'hono';
import { parse, type PlistValue } from 'plist';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  appleProfile,
  MOBILECONFIG_TYPE,
  profileFilename,
  profileIds,
  uuidV5,
} from '../../src/pages/mobileconfig';
import { QR_QUIET_ZONE, qrMatrix, qrSvg } from '../../src/pages/qr';
import { pageRoutes, profileHref } from '../../src/pages/routes';
import { renderSetupPage, SETUP_HEADINGS } from '../../src/pages/setup-page';
import type { SetupInfo } from '../../src/pages/types';

const ACME: SetupInfo = {
  tenantId: 'acme',
  displayName: 'Acme Corp',
  dohUrl: 'https://doh.example/t/acme/dns-query',
  prefixes: ['2001:db8:64::/96', '64:ff9b::/96'],
  host: 'doh.example',
};
const DEFAULT: SetupInfo = {
  tenantId: null,
  displayName: 'doh.example',
  dohUrl: 'https://doh.example/dns-query',
  prefixes: ['64:ff9b::/96'],
  host: 'doh.example',
};
const HOSTILE: SetupInfo = {
  tenantId: 'evil',
  displayName: `<script>alert("x")</script> & 'co'`,
  dohUrl: 'https://doh.example/t/evil/dns-query?a=<b>&c="d"',
  prefixes: ['<img src=x onerror=alert(1)>/96'],
  host: 'doh.example',
};

const UUID_V5 = /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;

// plist's browser build (the one workerd resolves) parses with the global DOMParser, which
// workerd lacks: lend it xmldom's, which is strict about well-formedness when told to throw.
beforeAll(() => {
  Object.assign(globalThis, { DOMParser: StrictParser });
});
class StrictParser extends XmlDomParser {
  constructor() {
    super({
      onError: (level, message) => {
        throw new Error(`XML ${level}: ${message}`);
      },
    });
  }
}

const utf8 = (b: ArrayBuffer) =>
  new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(b);

type Dict = { [key: string]: PlistValue };
function dict(v: PlistValue | undefined): Dict {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`not a dict: ${JSON.stringify(v)}`);
  }
  if (v instanceof Date || v instanceof Uint8Array || v instanceof ArrayBuffer) {
    throw new Error('not a dict');
  }
  return v as Dict;
}
function parseProfile(xml: string): { outer: Dict; dns: Dict } {
  const outer = dict(parse(xml));
  const content = outer.PayloadContent;
  if (!Array.isArray(content) || content.length !== 1) throw new Error('PayloadContent');
  return { outer, dns: dict(content[0]) };
}

describe('setup page', () => {
  const page = renderSetupPage(ACME);

  it('is a complete, self-contained HTML document', () => {
    expect(page.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(page.trimEnd().endsWith('</html>')).toBe(true);
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).toContain('<style>');
    // nothing to load and nothing to run
    for (const forbidden of ['<script', '<link', '<img', '<iframe', 'src=', '@import', 'url(']) {
      expect(page, forbidden).not.toContain(forbidden);
    }
  });

  it('shows the DoH URL in the copy box', () => {
    expect(page).toContain(
      '<pre class="copy" id="doh-url"><code>https://doh.example/t/acme/dns-query</code></pre>',
    );
    expect(page).toContain('<title>Set up Acme Corp: DNS64 over HTTPS</title>');
  });

  it('lists every NAT64 prefix', () => {
    expect(page).toContain(
      '<ul class="prefixes"><li><code>2001:db8:64::/96</code></li><li><code>64:ff9b::/96</code></li></ul>',
    );
  });

  it('has every section heading, in order', () => {
    const headings = [...page.matchAll(/<h2>([^<]*)<\/h2>/g)].map((m) => m[1]);
    expect(headings).toEqual([
      'Your DNS over HTTPS URL',
      'NAT64 prefixes',
      'QR code',
      'Firefox',
      'Chrome and Edge',
      'Windows 11',
      'Apple devices (iPhone, iPad, Mac)',
      'Android',
    ]);
    expect(headings).toEqual(Object.values(SETUP_HEADINGS));
  });

  it('says that Android Private DNS speaks DNS over TLS only, and names DoH apps', () => {
    const android = page.slice(page.indexOf('<section id="android">'));
    expect(android).toContain("<b>Android's system setting cannot use this URL.</b>");
    expect(android).toContain('speaks DNS over TLS\n(DoT, port 853) to it, not DNS over HTTPS');
    for (const app of ['Intra', 'Nebulo', 'Firefox', 'Chrome']) {
      expect(android).toContain(`<b>${app}</b>`);
    }
    expect(android).toContain('<code>https://doh.example/t/acme/dns-query</code>');
  });

  it('tells Windows 11 users to enter the server addresses and the template', () => {
    const win = page.slice(
      page.indexOf('<section id="windows">'),
      page.indexOf('<section id="apple">'),
    );
    expect(win).toContain('<code>Resolve-DnsName doh.example</code>');
    expect(win).toContain('<b>On (manual template)</b>');
    expect(win).toContain('<b>DNS over HTTPS template</b>');
    expect(win).toContain('-DohTemplate\nhttps://doh.example/t/acme/dns-query');
  });

  it('links the Apple profile beside the page, or where the routes say', () => {
    expect(page).toContain('<a class="button" href="apple.mobileconfig">');
    expect(renderSetupPage(ACME, { profileHref: './acme/apple.mobileconfig' })).toContain(
      'href="./acme/apple.mobileconfig"',
    );
  });

  it('embeds the QR code of the DoH URL', () => {
    expect(page).toContain(
      `<figure class="qr">${qrSvg(ACME.dohUrl, {
        label: `QR code of ${ACME.dohUrl}`,
      })}</figure>`,
    );
  });

  it('escapes a hostile display name, URL and prefix everywhere', () => {
    const evil = renderSetupPage(HOSTILE);
    expect(evil).not.toContain('<script');
    expect(evil).not.toContain('<img');
    expect(evil).not.toContain('"d"');
    const name = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;';
    expect(evil).toContain(`<title>Set up ${name}: DNS64 over HTTPS</title>`);
    expect(evil).toContain(`<h1>Set up ${name}</h1>`);
    const url = 'https://doh.example/t/evil/dns-query?a=&lt;b&gt;&amp;c=&quot;d&quot;';
    expect(evil).toContain(`<code>${url}</code>`);
    expect(evil).toContain(`aria-label="QR code of ${url}"`);
    expect(evil).toContain('<li><code>&lt;img src=x onerror=alert(1)&gt;/96</code></li>');
  });
});

describe('QR code', () => {
  // Reads the SVG path back into a module grid: one `Mx yhNv1h-Nz` per run of dark modules.
  function grid(svg: string): { total: number; dark: (r: number, c: number) => boolean } {
    const view = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
    const d = /<path fill="#000" d="([^"]*)"\/>/.exec(svg);
    if (!view || !d) throw new Error('no viewBox or path');
    const total = Number(view[1]);
    expect(Number(view[2])).toBe(total);
    const cells = new Set<string>();
    const runs = d[1] ?? '';
    const re = /M(\d+) (\d+)h(\d+)v1h-(\d+)z/g;
    let consumed = 0;
    for (const m of runs.matchAll(re)) {
      expect(m.index).toBe(consumed);
      consumed += m[0].length;
      const [x, y, n, back] = [m[1], m[2], m[3], m[4]].map(Number) as [
        number,
        number,
        number,
        number,
      ];
      expect(back).toBe(n);
      for (let i = 0; i < n; i++) cells.add(`${y},${x + i}`);
    }
    expect(consumed).toBe(runs.length);
    return { total, dark: (r, c) => cells.has(`${r + QR_QUIET_ZONE},${c + QR_QUIET_ZONE}`) };
  }

  it('is an <svg> with the module count of the QR version for the URL (3-M for 36 bytes)', () => {
    expect(ACME.dohUrl.length).toBe(36); // byte mode, level M: version 2 holds 26, version 3 holds 42
    const svg = qrSvg(ACME.dohUrl);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect(svg).toContain('viewBox="0 0 37 37"'); // 17 + 4 * 3 = 29 modules, plus 2 * 4 quiet zone
    expect(qrMatrix(ACME.dohUrl).version).toBe(3);
    // 100 bytes need version 6 at level M (version 5 holds 84, version 6 holds 106): 41 modules
    const long = `https://doh.example/t/${'a'.repeat(68)}/dns-query`;
    expect(long.length).toBe(100);
    expect(qrSvg(long)).toContain('viewBox="0 0 49 49"');
  });

  it('draws exactly the encoded modules, with finder and timing patterns in place', () => {
    const m = qrMatrix(ACME.dohUrl);
    const g = grid(qrSvg(ACME.dohUrl));
    expect(g.total).toBe(m.size + 8);
    for (let r = -QR_QUIET_ZONE; r < m.size + QR_QUIET_ZONE; r++) {
      for (let c = -QR_QUIET_ZONE; c < m.size + QR_QUIET_ZONE; c++) {
        if (g.dark(r, c) !== m.isDark(r, c)) throw new Error(`module ${r},${c} differs`);
      }
    }
    // Finder patterns (ISO/IEC 18004 6.3.3): 7x7 dark ring, light ring, 3x3 dark core.
    const finder = (r0: number, c0: number) => {
      for (let r = 0; r < 7; r++) {
        for (let c = 0; c < 7; c++) {
          const ring = Math.max(Math.abs(r - 3), Math.abs(c - 3));
          expect(g.dark(r0 + r, c0 + c), `finder ${r0},${c0} at ${r},${c}`).toBe(ring !== 2);
        }
      }
    };
    finder(0, 0);
    finder(0, m.size - 7);
    finder(m.size - 7, 0);
    // Timing patterns: row 6 and column 6 alternate between the finders.
    for (let i = 8; i < m.size - 8; i++) {
      expect(g.dark(6, i)).toBe(i % 2 === 0);
      expect(g.dark(i, 6)).toBe(i % 2 === 0);
    }
    // Format information beside the top-left finder: BCH(15,5)-valid and level M (00).
    const bits = [
      ...[0, 1, 2, 3, 4, 5, 7, 8].map((c) => g.dark(8, c)),
      ...[7, 5, 4, 3, 2, 1, 0].map((r) => g.dark(r, 8)),
    ];
    const word = bits.reduce((acc, b) => (acc << 1) | (b ? 1 : 0), 0) ^ 0x5412;
    let rem = word;
    for (let i = 14; i >= 10; i--) if (rem & (1 << i)) rem ^= 0x537 << (i - 10);
    expect(rem).toBe(0);
    expect(word >> 13).toBe(0b00);
  });

  it('escapes its label', () => {
    expect(qrSvg('x', { label: '"><script>' })).toContain('aria-label="&quot;&gt;&lt;script&gt;"');
  });
});

describe('Apple configuration profile', () => {
  it('computes RFC 9562 name-based (v5) UUIDs', async () => {
    // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org') in Python's documentation
    expect(await uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe(
      '886313E1-3B8A-5372-9B90-0C9AEE199E5D',
    );
  });

  it('parses as a property list with one DNS settings payload for the DoH URL', async () => {
    const xml = await appleProfile(ACME);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(xml).toContain(
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    );
    const { outer, dns } = parseProfile(xml);
    expect(outer.PayloadType).toBe('Configuration');
    expect(outer.PayloadVersion).toBe(1);
    expect(outer.PayloadIdentifier).toBe('example.doh.dns64-edge.tenant.acme');
    expect(outer.PayloadDisplayName).toBe('Acme Corp: DNS64 over HTTPS');
    expect(outer.PayloadDescription).toBe(
      "Sends this device's DNS queries to Acme Corp over HTTPS " +
        '(https://doh.example/t/acme/dns-query). Names that have only IPv4 addresses get IPv6 ' +
        'addresses inside the NAT64 prefix 2001:db8:64::/96, 64:ff9b::/96: use it on a network ' +
        'whose NAT64 gateway uses that prefix.',
    );
    expect(outer.PayloadRemovalDisallowed).toBe(false);
    expect(dns.PayloadType).toBe('com.apple.dnsSettings.managed');
    expect(dns.PayloadVersion).toBe(1);
    expect(dns.PayloadIdentifier).toBe('example.doh.dns64-edge.tenant.acme.dns');
    expect(dns.PayloadDisplayName).toBe('Acme Corp (DNS over HTTPS)');
    expect(dns.DNSSettings).toEqual({
      DNSProtocol: 'HTTPS',
      ServerURL: 'https://doh.example/t/acme/dns-query',
    });
    expect(outer.PayloadUUID).toMatch(UUID_V5);
    expect(dns.PayloadUUID).toMatch(UUID_V5);
    expect(outer.PayloadUUID).not.toBe(dns.PayloadUUID);
  });

  it('keeps its UUIDs stable per tenant and distinct across tenants and hosts', async () => {
    const first = await appleProfile(ACME);
    expect(await appleProfile(ACME)).toBe(first);
    // The display name, URL and prefixes do not move the identifiers: only host and tenant do.
    const renamed = await profileIds({ ...ACME, displayName: 'Other name' } as SetupInfo);
    expect(renamed).toEqual(await profileIds(ACME));

    const all = await Promise.all(
      [
        ACME,
        { ...ACME, tenantId: 'acme2' },
        DEFAULT,
        { ...ACME, host: 'doh2.example' },
        { ...DEFAULT, host: 'doh2.example' },
      ].map(async (info) => parseProfile(await appleProfile(info))),
    );
    const uuids = all.flatMap(({ outer, dns }) => [outer.PayloadUUID, dns.PayloadUUID]);
    const ids = all.flatMap(({ outer, dns }) => [outer.PayloadIdentifier, dns.PayloadIdentifier]);
    expect(new Set(uuids).size).toBe(10);
    expect(new Set(ids).size).toBe(10);
    expect(all[2]?.outer.PayloadIdentifier).toBe('example.doh.dns64-edge.default');
  });

  it('carries a hostile display name and URL as exact text', async () => {
    const { outer, dns } = parseProfile(
      await appleProfile({ ...HOSTILE, displayName: `${HOSTILE.displayName}\u0000\u0007` }),
    );
    expect(outer.PayloadDisplayName).toBe(`${HOSTILE.displayName}: DNS64 over HTTPS`);
    expect(outer.PayloadOrganization).toBe(HOSTILE.displayName);
    expect(dict(dns.DNSSettings).ServerURL).toBe(HOSTILE.dohUrl);
    // identifiers keep to letters, digits, '-' and '.'
    const ids = await profileIds({ host: 'doh.example', tenantId: 'a.b_c/é' });
    expect(ids.identifier).toBe('example.doh.dns64-edge.tenant.a_2eb_5fc_2f_c3_a9');
  });

  it('names the download after host and tenant', () => {
    expect(profileFilename(ACME)).toBe('doh.example-acme.mobileconfig');
    expect(profileFilename(DEFAULT)).toBe('doh.example.mobileconfig');
    expect(profileFilename({ host: 'localhost:8787', tenantId: 'A "b"' })).toBe(
      'localhost-8787-a-b.mobileconfig',
    );
  });
});

describe('page routes on a Hono app', () => {
  const TENANTS: Record<string, SetupInfo> = { acme: ACME };
  const tenantInfo = async (c: Context): Promise<SetupInfo | Response> =>
    TENANTS[c.req.param('id') ?? ''] ??
    new Response('unknown tenant\n', { status: 404, headers: { 'x-why': 'no' } });
  // Hono routes are strict about a trailing slash: a sub-app's `/` mounted at `/t/:id` answers
  // `/t/acme`, mounted at `/s/:id/` it answers `/s/acme/`. Both mounts are exercised.
  function testApp(): Hono {
    const app = new Hono();
    app.route('/t/:id', pageRoutes(tenantInfo));
    app.route('/s/:id/', pageRoutes(tenantInfo));
    app.route(
      '/',
      pageRoutes(async () => DEFAULT),
    );
    return app;
  }
  const get = (path: string) => testApp().request(`https://doh.example${path}`);

  it('serves the page as UTF-8 HTML with a no-script policy', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body).toBe(renderSetupPage(DEFAULT));
  });

  it('serves the profile as application/x-apple-aspen-config, as an attachment', async () => {
    const res = await get('/apple.mobileconfig');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MOBILECONFIG_TYPE);
    expect(res.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="doh.example.mobileconfig"',
    );
    expect(utf8(await res.arrayBuffer())).toBe(await appleProfile(DEFAULT));
  });

  it('serves a tenant under its mount, and its profile link resolves to its profile', async () => {
    for (const path of ['/t/acme', '/s/acme/']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      const body = await res.text();
      expect(body).toContain('<code>https://doh.example/t/acme/dns-query</code>');
      const href = /<a class="button" href="([^"]+)">/.exec(body)?.[1];
      expect(href, path).toBe(
        path.endsWith('/') ? 'apple.mobileconfig' : './acme/apple.mobileconfig',
      );
      const profileUrl = new URL(href ?? '', `https://doh.example${path}`);
      expect(profileUrl.pathname).toBe(`${path.replace(/\/$/, '')}/apple.mobileconfig`);
      const profile = await get(profileUrl.pathname);
      expect(profile.status).toBe(200);
      expect(profile.headers.get('content-disposition')).toBe(
        'attachment; filename="doh.example-acme.mobileconfig"',
      );
      expect(dict(parseProfile(utf8(await profile.arrayBuffer())).dns.DNSSettings).ServerURL).toBe(
        ACME.dohUrl,
      );
    }
  });

  it('returns the Response getInfo gives for an unknown tenant, unchanged', async () => {
    for (const path of ['/t/nobody', '/t/nobody/apple.mobileconfig', '/s/nobody/']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('x-why')).toBe('no');
      expect(await res.text()).toBe('unknown tenant\n');
    }
  });

  it('computes relative profile links for both path shapes', () => {
    expect(profileHref('/')).toBe('apple.mobileconfig');
    expect(profileHref('/t/acme/')).toBe('apple.mobileconfig');
    expect(profileHref('/t/acme')).toBe('./acme/apple.mobileconfig');
    expect(profileHref('/t/a:b')).toBe('./a:b/apple.mobileconfig');
  });
});
