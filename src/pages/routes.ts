import { Hono, type Context } from 'hono';
import { plainError } from '../doh/errors';
import { appleProfile, MOBILECONFIG_TYPE, parseSsids, profileFilename } from './mobileconfig';
import { isHttps, renderSetupPage } from './setup-page';
import type { SetupInfo } from './types';

/** The Apple profile's file name beside the page. */
export const PROFILE_PATH = 'apple.mobileconfig';

// The page has no scripts and loads nothing: the policy forbids both, so an escaping slip could
// not run script. Keyed tenant URLs are secrets: no caching, no referrer.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; " +
    "form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** The answer to a profile request for a DoH URL that is not https:// (see docs/decisions.md). */
export const PROFILE_NEEDS_HTTPS =
  'no Apple profile for an http:// DoH URL: Apple devices take DNS over HTTPS only from an ' +
  'https:// URL; open this page over HTTPS';

/**
 * The client setup page (`GET /`) and the Apple configuration profile (`GET /apple.mobileconfig`)
 * for the tenant `getInfo` finds. A Response from `getInfo` (an unknown tenant, say) is returned
 * as it is. Mount it where the tenant's DoH URL lives, e.g. `app.route('/t/:id', pageRoutes(f))`.
 * The profile exists only for an https:// DoH URL (`404` with a reason otherwise); `?ssid=NAME`
 * (repeatable) limits it to those Wi-Fi networks (`400` with a reason for a bad name).
 */
export function pageRoutes(getInfo: (c: Context) => Promise<SetupInfo | Response>): Hono {
  const app = new Hono();

  app.get('/', async (c) => {
    const info = await getInfo(c);
    if (info instanceof Response) return info;
    const html = renderSetupPage(info, { profileHref: profileHref(new URL(c.req.url).pathname) });
    return new Response(html, { status: 200, headers: PAGE_HEADERS });
  });

  app.get(`/${PROFILE_PATH}`, async (c) => {
    const info = await getInfo(c);
    if (info instanceof Response) return info;
    if (!isHttps(info.dohUrl)) return plainError(404, PROFILE_NEEDS_HTTPS);
    const raw = ssidParams(new URL(c.req.url).search);
    const ssids = 'error' in raw ? raw : parseSsids(raw);
    if ('error' in ssids) return plainError(400, ssids.error);
    return new Response(await appleProfile(info, { ssids }), {
      status: 200,
      headers: {
        'content-type': MOBILECONFIG_TYPE,
        'content-disposition': `attachment; filename="${profileFilename(info)}"`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      },
    });
  });

  return app;
}

/**
 * The profile link relative to the page's own path: `apple.mobileconfig` when the page is at a
 * path ending in `/`, `{last segment}/apple.mobileconfig` when it is not (`/t/acme` links to
 * `./acme/apple.mobileconfig`, which resolves to `/t/acme/apple.mobileconfig`).
 */
export function profileHref(pathname: string): string {
  if (pathname.endsWith('/')) return PROFILE_PATH;
  const last = pathname.slice(pathname.lastIndexOf('/') + 1);
  return `./${last}/${PROFILE_PATH}`;
}

/**
 * The `ssid` values of a query string, decoded strictly (form encoding: `+` is a space): a value
 * that is not percent-encoded UTF-8 is an error, not kept as raw text.
 */
export function ssidParams(search: string): string[] | { readonly error: string } {
  const values: string[] = [];
  for (const pair of search.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (name !== 'ssid') continue;
    try {
      values.push(decodeURIComponent((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' ')));
    } catch {
      return { error: 'ssid: not valid percent-encoded UTF-8' };
    }
  }
  return values;
}
