import { Hono, type Context } from 'hono';
import { appleProfile, MOBILECONFIG_TYPE, profileFilename } from './mobileconfig';
import { renderSetupPage } from './setup-page';
import type { SetupInfo } from './types';

/** The Apple profile's file name beside the page. */
export const PROFILE_PATH = 'apple.mobileconfig';

// The page has no scripts and loads nothing: the policy forbids both, so an escaping slip could
// not run script. Keyed tenant URLs are secrets: no caching, no referrer.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; " +
    "form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/**
 * The client setup page (`GET /`) and the Apple configuration profile (`GET /apple.mobileconfig`)
 * for the tenant `getInfo` finds. A Response from `getInfo` (an unknown tenant, say) is returned
 * as it is. Mount it where the tenant's DoH URL lives, e.g. `app.route('/t/:id', pageRoutes(f))`.
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
    return new Response(await appleProfile(info), {
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
