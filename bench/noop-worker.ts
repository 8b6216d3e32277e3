/**
 * The floor for (c): a worker that answers every request with a fixed 64-byte DNS message and
 * does nothing else, run in `wrangler dev` the same way, so that the CPU workerd and wrangler's
 * local proxy spend per request can be told apart from the resolver's own work.
 */
const BODY = new Uint8Array(64);

export default {
  fetch(): Response {
    return new Response(BODY, {
      headers: { 'content-type': 'application/dns-message', 'cache-control': 'max-age=300' },
    });
  },
};
