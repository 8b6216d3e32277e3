/**
 * Escapes text for HTML and XML, in element content and in quoted attribute values alike:
 * `&`, `<`, `>`, `"` and `'`.
 */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
