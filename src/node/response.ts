/** A complete HTTP response as the Node front sends it, whatever the protocol. */
export interface HttpResponse {
  readonly status: number;
  /** Lowercase names. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** A plain-text error with a one-line reason. */
export function textResponse(status: number, reason: string): HttpResponse {
  const body = new TextEncoder().encode(`${reason}\n`);
  return {
    status,
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
      ['access-control-allow-origin', '*'],
    ],
    body,
  };
}

export function internalError(err: unknown): HttpResponse {
  return textResponse(500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
