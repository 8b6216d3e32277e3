import { escapeHtml as h } from './escape';

/**
 * Whether the client asked for HTML: `text/html` named in Accept with a q-value above 0
 * (RFC 9110 §12.5.1). Browsers navigating send it; curl (`*\/*`), DoH clients and scripts do
 * not, so they keep the one-line text/plain reason.
 */
export function wantsHtml(accept: string | null | undefined): boolean {
  if (!accept) return false;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'text/html') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined) return true;
    const value = Number(q.slice(2));
    if (Number.isFinite(value) && value > 0) return true;
  }
  return false;
}

/** Why a setup page (or its profile) was refused: the engine's verdict, with what the URL held. */
export interface PageRefusal {
  /** 403: the tenant's key is missing, wrong, or given to a tenant without one; 404: no tenant. */
  readonly status: 403 | 404;
  readonly tenantId: string;
  /** Whether the URL carried a key (`/t/{id}/{key}/`). */
  readonly keyGiven: boolean;
  /** The engine's one-line reason (the text/plain body non-browsers get). */
  readonly reason: string;
}

/** The headings of the browser pages, by case (tests look for these). */
export const REFUSAL_HEADINGS = {
  needsKey: 'This setup page needs the tenant’s key',
  badKey: 'This key is not accepted',
  unknown: 'No such tenant',
} as const;

/**
 * The page a browser gets instead of a bare text/plain 403 or 404 on a setup page: same status,
 * a short HTML document that says what the URL lacks and what to do. It never shows a key.
 */
export function refusalPage(refusal: PageRefusal): Response {
  const id = h(refusal.tenantId);
  let heading: string;
  let advice: string;
  if (refusal.status === 404) {
    heading = REFUSAL_HEADINGS.unknown;
    advice =
      `<p>There is no tenant <code>${id}</code> on this server. Check the address for a typing ` +
      `mistake, or ask whoever gave it to you for the right one.</p>`;
  } else if (!refusal.keyGiven) {
    heading = REFUSAL_HEADINGS.needsKey;
    advice =
      `<p>Tenant <code>${id}</code> keeps its DNS over HTTPS URL secret: the URL carries a key, ` +
      `<code>/t/${id}/<i>key</i>/</code>, and so does the address of this setup page.</p>` +
      `<p>Open the full address you were given (it has the key in it), or ask the operator of ` +
      `<code>${id}</code> for it.</p>`;
  } else {
    heading = REFUSAL_HEADINGS.badKey;
    advice =
      `<p>The address has a key that tenant <code>${id}</code> does not accept. Copy the full ` +
      `address again from where you got it, or ask the tenant's operator for it.</p>`;
  }
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${heading}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${heading}</h1>
${advice}
<p class="reason">HTTP ${refusal.status}: ${h(refusal.reason)}</p>
</main>
</body>
</html>
`;
  return new Response(html, {
    status: refusal.status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      // the same URL answers text/plain to clients that do not ask for HTML
      vary: 'Accept',
    },
  });
}

const CSS = `
:root{color-scheme:light dark}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:40rem;margin:0 auto;padding:2rem 1rem}
h1{font-size:1.6rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
.reason{color:#6a737d;font-size:.9rem}
`;
