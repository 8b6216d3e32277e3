import type { MiddlewareHandler } from 'hono';

/**
 * CORS for browser-based DoH clients: any origin may read answers. Preflights are answered
 * here; on other requests the header is added to the response after the handler, in place
 * (hono/cors sets it on `c.res` before the handler, which makes Hono copy every response).
 */
export function openCors(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET,POST,OPTIONS',
          'access-control-allow-headers': 'Content-Type,Accept',
          'access-control-max-age': '86400',
        },
      });
    }
    await next();
    withOpenCors(c.res);
  };
}

/** Any origin may read the response. */
function withOpenCors(res: Response): Response {
  res.headers.set('access-control-allow-origin', '*');
  return res;
}
