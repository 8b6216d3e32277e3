/** One line of text: every HTTP error says why (RFC 8484 leaves the body to the server). */
export function plainError(status: number, reason: string, headers: HeadersInit = {}): Response {
  return new Response(`${reason}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  });
}
