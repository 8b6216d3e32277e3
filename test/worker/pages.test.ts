import { DOMParser as XmlDomParser } from '@xmldom/xmldom';
import { env } from 'cloudflare:test';
import { Hono, type Context } from 'hono';
import { parse, type PlistValue } from 'plist';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, createApp } from '../../src/doh/app';
import { REFUSAL_HEADINGS, wantsHtml } from '../../src/pages/error-page';
import {
  appleProfile,
  MOBILECONFIG_TYPE,
  parseSsids,
  profileFilename,
  profileIds,
  uuidV5,
} from '../../src/pages/mobileconfig';
import { QR_QUIET_ZONE, qrMatrix, qrSvg } from '../../src/pages/qr';
import { pageRoutes, PROFILE_NEEDS_HTTPS, profileHref } from '../../src/pages/routes';
import { renderSetupPage, SETUP_HEADINGS } from '../../src/pages/setup-page';
import type { ServedTransports, SetupInfo } from '../../src/pages/types';
import { UpstreamHealth } from '../../src/upstream/health';
import { ENV } from './setup';

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

/** One `<section id=...>` of a page. */
function section(page: string, id: string): string {
  const start = page.indexOf(`<section id="${id}">`);
  if (start < 0) throw new Error(`no section ${id}`);
  return page.slice(start, page.indexOf('</section>', start) + '</section>'.length);
}

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
    // no transports: a Worker, which never serves DoT
    expect(android).toContain(
      'This resolver runs on Cloudflare Workers, which speak HTTP only, so it cannot serve DoT: ' +
        'on Android, use DNS over HTTPS as below.',
    );
    expect(android).not.toContain('id="dot-host"');
    for (const app of ['Intra', 'Nebulo', 'Firefox', 'Chrome']) {
      expect(android).toContain(`<b>${app}</b>`);
    }
    expect(android).toContain('<code>https://doh.example/t/acme/dns-query</code>');
  });

  it('tells Windows 11 users to look up the host name, then enter addresses and template', () => {
    const win = section(page, 'windows');
    expect(win).toContain('<code>Resolve-DnsName doh.example</code>');
    expect(win).toContain('<code>nslookup doh.example</code>');
    expect(win).toContain('<b>On (manual template)</b>');
    expect(win).toContain('<b>DNS over HTTPS template</b>');
    // Microsoft's documented syntax: netsh dns add encryption server=<IP> dohtemplate=<URL>
    expect(win).toContain(
      '<code class="netsh">netsh dns add encryption server=&lt;address&gt; ' +
        'dohtemplate=https://doh.example/t/acme/dns-query autoupgrade=yes udpfallback=no</code>',
    );
  });

  it('gives Windows 11 the address itself when the URL names its server by IP', () => {
    for (const [url, address, family] of [
      ['https://192.0.2.53/dns-query', '192.0.2.53', 'IPv4'],
      ['https://[2001:db8::53]:8443/dns-query', '2001:db8::53', 'IPv6'],
    ] as const) {
      const win = section(renderSetupPage({ ...DEFAULT, dohUrl: url }), 'windows');
      expect(win, url).not.toContain('Resolve-DnsName');
      expect(win, url).not.toContain('nslookup');
      expect(win).toContain(
        `This URL names its server by address, so that address,\n<code>${address}</code>, ` +
          'is the DNS server to enter.',
      );
      expect(win).toContain(
        `<li>Turn on <b>${family}</b> and enter <code>${address}</code> as <b>Preferred DNS</b>.</li>`,
      );
      expect(win).toContain(
        `<code class="netsh">netsh dns add encryption server=${address} dohtemplate=${url} ` +
          'autoupgrade=yes udpfallback=no</code>',
      );
    }
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

describe('the page tells the truth about http:// URLs', () => {
  const HTTP: SetupInfo = { ...DEFAULT, dohUrl: 'http://doh.example:8787/dns-query' };
  const SELF_HOSTED: ServedTransports = { dnsPort: 53, dotPort: null };

  it('says at the top that browsers and operating systems need HTTPS', () => {
    const page = renderSetupPage(HTTP);
    const notice = /<aside class="warn" id="https-needed">[^]*?<\/aside>/.exec(page)?.[0] ?? '';
    expect(notice).toContain(
      '<p><b>This DNS over HTTPS URL is http://, and browsers and operating systems take DNS ' +
        'over HTTPS\nonly from an https:// URL.</b> Firefox, Chrome, Edge, Windows 11, Apple ' +
        'devices and Android apps\nrefuse a plain-HTTP DoH URL, so the DoH steps below do not ' +
        'work with this one.</p>',
    );
    // before the platform steps
    expect(page.indexOf('id="https-needed"')).toBeLessThan(page.indexOf('<nav'));
    expect(page).toContain('is a DNS64 resolver reached over HTTP (DoH, RFC 8484).');
    expect(renderSetupPage(DEFAULT)).toContain(
      'is a DNS64 resolver reached over HTTPS (DoH, RFC 8484).',
    );
    // on a Worker nothing else is served
    expect(notice).toContain(
      '<li>Nothing else: a Cloudflare Worker speaks only HTTP, so it serves neither classic ' +
        'DNS nor DNS over TLS.</li>',
    );
    expect(notice).not.toContain('id="works-dns"');
  });

  it('marks every DoH section and offers no Apple profile', () => {
    const page = renderSetupPage(HTTP);
    for (const id of ['firefox', 'chrome', 'windows']) {
      expect(section(page, id), id).toContain(
        '<p class="warn needs-https"><b>Not with this URL:</b> this takes only an https:// DoH ' +
          'URL, and this one is http:// (see the note at the top).</p>',
      );
    }
    const apple = section(page, 'apple');
    expect(apple).toContain(
      '<p class="warn needs-https" id="no-profile"><b>No profile for this URL:</b> Apple ' +
        'devices take DNS over HTTPS only from an https:// URL',
    );
    expect(apple).not.toContain('mobileconfig');
    expect(apple).not.toContain('<form');
    expect(page).not.toContain('class="button"');
    expect(section(page, 'android')).toContain('(They too need an https:// URL.)');
  });

  it('lists classic DNS (and DoT when served) as what works on the self-hosted server', () => {
    const onName = renderSetupPage({ ...HTTP, transports: { dnsPort: 5353, dotPort: null } });
    expect(onName).toContain(
      '<li id="works-dns"><b>Classic DNS</b> (UDP and TCP, not encrypted) at the addresses of ' +
        "<code>doh.example</code>, port <code>5353</code>: as a network's DNS server " +
        "(DHCP, router advertisements) or a device's manual DNS server. Devices and DHCP " +
        'use port 53 only, and this server answers on 5353 (<code>DNS_PORT</code>): tools such ' +
        'as <code>dig -p 5353</code> reach it, devices need <code>DNS_PORT=53</code>.</li>',
    );
    expect(onName).not.toContain('id="works-dot"');
    expect(onName).toContain('give this server a certificate for its name (<code>TLS_CERT</code>');

    const onAddress = renderSetupPage({
      ...HTTP,
      dohUrl: 'http://[2001:db8::53]/dns-query',
      transports: { dnsPort: 53, dotPort: 853 },
    });
    expect(onAddress).toContain(
      '<li id="works-dns"><b>Classic DNS</b> (UDP and TCP, not encrypted) at ' +
        "<code>2001:db8::53</code>, port <code>53</code>: as a network's DNS server " +
        "(DHCP, router advertisements) or a device's manual DNS server.</li>",
    );
    expect(onAddress).toContain(
      '<li id="works-dot"><b>DNS over TLS</b> at <code>[2001:db8::53]</code>, port ' +
        '<code>853</code>',
    );
  });

  it('shows no notice and no needs-https line for an https:// URL, and the profile link', () => {
    for (const transports of [undefined, SELF_HOSTED]) {
      const page = renderSetupPage({ ...DEFAULT, transports });
      expect(page).not.toContain('https-needed');
      expect(page).not.toContain('needs-https');
      expect(section(page, 'apple')).toContain(
        '<p><a class="button" href="apple.mobileconfig">Download the configuration profile</a></p>',
      );
      expect(section(page, 'apple')).toContain(
        '<form class="ssid" method="get" action="apple.mobileconfig">',
      );
    }
  });
});

describe('Android Private DNS', () => {
  it('gives the host name, with what it needs, when the server serves DoT on 853', () => {
    const page = renderSetupPage({ ...DEFAULT, transports: { dnsPort: 53, dotPort: 853 } });
    const android = section(page, 'android');
    expect(android).toContain('<pre class="copy" id="dot-host"><code>doh.example</code></pre>');
    expect(android).toContain(
      '<b>Private DNS</b> (Android 9 or later) speaks DNS over TLS (DoT), and this server serves',
    );
    expect(android).toContain(
      'It needs a certificate for <code>doh.example</code> from a certificate authority Android\n' +
        'trusts',
    );
    expect(android).toContain('on port 853, the only port Private DNS uses.');
    expect(android).not.toContain('id="dot-port"');
    expect(android).not.toContain('id="no-dot"');
    expect(android).not.toContain('cannot use this URL');
  });

  it('warns when DoT is on another port than 853, or the URL host is an address', () => {
    const other = section(
      renderSetupPage({ ...DEFAULT, transports: { dnsPort: 53, dotPort: 8853 } }),
      'android',
    );
    expect(other).toContain(
      '<p class="warn" id="dot-port">This server serves DoT on port <code>8853</code> ' +
        '(<code>DOT_PORT</code>), and Private DNS uses port 853 only: it reaches this server ' +
        'once port 853 leads there.</p>',
    );
    const byAddress = section(
      renderSetupPage({
        ...DEFAULT,
        dohUrl: 'https://192.0.2.53/dns-query',
        transports: { dnsPort: 53, dotPort: 853 },
      }),
      'android',
    );
    expect(byAddress).toContain(
      'Private DNS takes a host name, not an IP address such as <code>192.0.2.53</code>',
    );
  });

  it('says the self-hosted server needs a certificate for DoT when it serves none', () => {
    const android = section(
      renderSetupPage({ ...DEFAULT, transports: { dnsPort: 53, dotPort: null } }),
      'android',
    );
    expect(android).toContain(
      'This server does not serve DoT: it needs a certificate for its name ' +
        '(<code>TLS_CERT</code> and <code>TLS_KEY</code>), then it serves DoT on ' +
        '<code>DOT_PORT</code> (853).',
    );
    expect(android).not.toContain('id="dot-host"');
  });
});

describe('the profile for one Wi-Fi network (?ssid=)', () => {
  it('adds OnDemandRules: Connect on that SSID over Wi-Fi, Disconnect elsewhere', async () => {
    const { outer, dns } = parseProfile(await appleProfile(ACME, { ssids: ['Lab-v6'] }));
    expect(dns.OnDemandRules).toEqual([
      { Action: 'Connect', InterfaceTypeMatch: 'WiFi', SSIDMatch: ['Lab-v6'] },
      { Action: 'Disconnect' },
    ]);
    expect(dns.DNSSettings).toEqual({ DNSProtocol: 'HTTPS', ServerURL: ACME.dohUrl });
    expect(String(outer.PayloadDescription)).toMatch(
      / It applies only on the Wi-Fi network "Lab-v6"\.$/,
    );
    // same identifiers as without: installing it replaces the everywhere profile
    const plain = parseProfile(await appleProfile(ACME));
    expect(outer.PayloadUUID).toBe(plain.outer.PayloadUUID);
    expect(plain.dns.OnDemandRules).toBeUndefined();
  });

  it('checks the names: 1 to 32 octets, no control characters, at most 8', () => {
    expect(parseSsids(['Lab-v6'])).toEqual(['Lab-v6']);
    expect(parseSsids(['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(parseSsids(['é'.repeat(16)])).toEqual(['é'.repeat(16)]); // 32 octets
    expect(parseSsids([''])).toEqual({ error: 'ssid: empty; give the Wi-Fi network name' });
    expect(parseSsids(['€'.repeat(11)])).toEqual({
      error: 'ssid: a Wi-Fi network name is 1 to 32 octets, this one is 33',
    });
    expect(parseSsids(['lab\u0000'])).toEqual({
      error: 'ssid: control characters are not allowed in a network name',
    });
    expect(parseSsids(Array.from({ length: 9 }, (_, i) => `n${i}`))).toEqual({
      error: 'ssid: at most 8 networks',
    });
  });

  it('carries a hostile network name as exact text', async () => {
    const evil = `<b>&"'`;
    const xml = await appleProfile(ACME, { ssids: [evil] });
    expect(xml).not.toContain('<b>');
    const { dns } = parseProfile(xml);
    expect(dns.OnDemandRules).toEqual([
      { Action: 'Connect', InterfaceTypeMatch: 'WiFi', SSIDMatch: [evil] },
      { Action: 'Disconnect' },
    ]);
  });
});

describe('page routes: profile only for https://, ?ssid=', () => {
  function testApp(info: SetupInfo): Hono {
    const app = new Hono();
    app.route(
      '/',
      pageRoutes(async () => info),
    );
    return app;
  }

  it('answers the profile URL of an http:// DoH URL with 404 and the reason', async () => {
    const app = testApp({ ...DEFAULT, dohUrl: 'http://doh.example/dns-query' });
    const res = await app.request('http://doh.example/apple.mobileconfig');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe(
      'no Apple profile for an http:// DoH URL: Apple devices take DNS over HTTPS only from an ' +
        'https:// URL; open this page over HTTPS\n',
    );
    expect(PROFILE_NEEDS_HTTPS).toContain('https:// URL');
  });

  it('takes ?ssid= (the page form sends it with + for spaces) and refuses a bad one', async () => {
    const app = testApp(DEFAULT);
    for (const [query, ssids] of [
      ['ssid=Lab-v6', ['Lab-v6']],
      ['ssid=Lab+v6', ['Lab v6']],
      ['ssid=Caf%C3%A9%20v6&ssid=Lab-v6', ['Café v6', 'Lab-v6']],
    ] as const) {
      const res = await app.request(`https://doh.example/apple.mobileconfig?${query}`);
      expect(res.status, query).toBe(200);
      const { dns } = parseProfile(utf8(await res.arrayBuffer()));
      expect(dns.OnDemandRules, query).toEqual([
        { Action: 'Connect', InterfaceTypeMatch: 'WiFi', SSIDMatch: ssids },
        { Action: 'Disconnect' },
      ]);
    }
    for (const [query, reason] of [
      ['ssid=', 'ssid: empty; give the Wi-Fi network name'],
      [`ssid=${'x'.repeat(33)}`, 'ssid: a Wi-Fi network name is 1 to 32 octets, this one is 33'],
      ['ssid=a%0Ab', 'ssid: control characters are not allowed in a network name'],
      ['ssid=%E0%A4%A', 'ssid: not valid percent-encoded UTF-8'],
      ['ssid=%ED%A0%80', 'ssid: not valid percent-encoded UTF-8'],
      ['ssid=ok&ssid', 'ssid: empty; give the Wi-Fi network name'],
    ]) {
      const res = await app.request(`https://doh.example/apple.mobileconfig?${query}`);
      expect([res.status, await res.text()], query).toEqual([400, `${reason}\n`]);
    }
  });
});

describe('Accept: text/html', () => {
  it('is wanted only when text/html is named with q above 0', () => {
    const chrome =
      'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
    expect(wantsHtml(chrome)).toBe(true);
    expect(wantsHtml('TEXT/HTML; charset=utf-8')).toBe(true);
    expect(wantsHtml('text/html;q=0.5')).toBe(true);
    expect(wantsHtml('text/html;q=0')).toBe(false);
    expect(wantsHtml('*/*')).toBe(false);
    expect(wantsHtml('text/plain')).toBe(false);
    expect(wantsHtml(null)).toBe(false);
    expect(wantsHtml('')).toBe(false);
  });
});

describe('the worker app: keyed tenants in a browser, transports, X-Forwarded-Proto', () => {
  const TOKEN = 'admin-secret-token-for-pages';
  const KEY = 'page-key-0123456789abcdef';
  const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const ENVS = { ...env, ...ENV, ADMIN_TOKEN: TOKEN };

  async function appWith(options: AppOptions = {}) {
    const app = createApp({ cache: null, health: new UpstreamHealth(), ...options });
    const put = await app.request(
      'https://doh.test/admin/tenants/keyed',
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Keyed ISP', prefixes: ['2001:db8:82::/96'], key: KEY }),
      },
      ENVS,
    );
    expect(put.status).toBeLessThan(300);
    return (url: string, headers: Record<string, string> = {}) =>
      app.request(url, { headers }, ENVS);
  }

  it('gives a browser a short HTML page (403) when the key is missing, text/plain otherwise', async () => {
    const get = await appWith();
    for (const path of ['/t/keyed/', '/t/keyed', '/t/keyed/apple.mobileconfig']) {
      const res = await get(`https://doh.test${path}`, BROWSER);
      expect(res.status, path).toBe(403);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('vary')).toBe('Accept');
      const html = await res.text();
      expect(html).toContain(`<h1>${REFUSAL_HEADINGS.needsKey}</h1>`);
      expect(html).toContain(
        '<p>Tenant <code>keyed</code> keeps its DNS over HTTPS URL secret: the URL carries a ' +
          'key, <code>/t/keyed/<i>key</i>/</code>, and so does the address of this setup page.</p>',
      );
      expect(html).toContain(
        '<p class="reason">HTTP 403: tenant keyed needs its key: /t/keyed/{key}/dns-query</p>',
      );
      expect(html).not.toContain(KEY);

      const plain = await get(`https://doh.test${path}`);
      expect([plain.status, plain.headers.get('content-type'), await plain.text()]).toEqual([
        403,
        'text/plain; charset=utf-8',
        'tenant keyed needs its key: /t/keyed/{key}/dns-query\n',
      ]);
    }
  });

  it('says a wrong key is not accepted, and an unknown tenant is unknown, in HTML', async () => {
    const get = await appWith();
    const wrong = await get('https://doh.test/t/keyed/wrong-key-0123456789abc/', BROWSER);
    expect(wrong.status).toBe(403);
    const html = await wrong.text();
    expect(html).toContain(`<h1>${REFUSAL_HEADINGS.badKey}</h1>`);
    expect(html).toContain('<p class="reason">HTTP 403: wrong key for tenant keyed</p>');
    expect(html).not.toContain('wrong-key-0123456789abc');

    const unknown = await get('https://doh.test/t/nobody/', BROWSER);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await unknown.text()).toContain(
      `<h1>${REFUSAL_HEADINGS.unknown}</h1>\n<p>There is no tenant <code>nobody</code> on this server.`,
    );
    const plain = await get('https://doh.test/t/nobody/');
    expect([plain.status, await plain.text()]).toEqual([404, 'unknown tenant nobody\n']);
    // the keyed tenant's page with its key is the page itself
    const ok = await get(`https://doh.test/t/keyed/${KEY}/`, BROWSER);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(`https://doh.test/t/keyed/${KEY}/dns-query`);
  });

  it('passes the transports to the page: DoT host name only when DoT is served', async () => {
    const withDot = await appWith({ transports: { dnsPort: 53, dotPort: 853 } });
    const a = await (await withDot('https://doh.test/')).text();
    expect(a).toContain('<pre class="copy" id="dot-host"><code>doh.test</code></pre>');
    const noDot = await appWith({ transports: { dnsPort: 53, dotPort: null } });
    const b = await (await noDot('https://doh.test/')).text();
    expect(b).not.toContain('id="dot-host"');
    expect(b).toContain('This server does not serve DoT');
  });

  it('serves the http:// page with the notice and a 404 profile, unless a trusted proxy says https', async () => {
    const direct = await appWith({ transports: { dnsPort: 53, dotPort: null } });
    const page = await (await direct('http://doh.test/', { 'x-forwarded-proto': 'https' })).text();
    expect(page).toContain('id="https-needed"');
    expect(page).toContain('<code>http://doh.test/dns-query</code>');
    expect((await direct('http://doh.test/apple.mobileconfig')).status).toBe(404);

    const proxied = await appWith({ transports: { dnsPort: 53, dotPort: null }, trustProxy: true });
    const https = { 'x-forwarded-proto': 'https' };
    const behind = await (await proxied('http://doh.test/', https)).text();
    expect(behind).not.toContain('https-needed');
    expect(behind).toContain('<code>https://doh.test/dns-query</code>');
    const profile = await proxied('http://doh.test/apple.mobileconfig', https);
    expect(profile.status).toBe(200);
    expect(dict(parseProfile(await profile.text()).dns.DNSSettings).ServerURL).toBe(
      'https://doh.test/dns-query',
    );
  });
});
