/**
 * The server side of one HTTP/2 connection (RFC 9113), bytes in and bytes out: frames are
 * parsed from `receive()`, requests handed to the handler once complete, responses framed
 * with flow control, and everything the peer must get is queued for `takeOutput()`. No
 * server push, no priorities (RFC 9113 §5.3.2 lets a server ignore them). The Node adapter
 * (session.ts) owns the socket and the timers.
 */
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  FRAME_HEADER_SIZE,
  Flag,
  FrameType,
  MAX_WINDOW,
  Setting,
  frame,
  settingsFrame,
  wordsFrame,
  writeFrameHeader,
} from './frames';
import { type HttpReply, internalErrorReply, textReply } from '../../doh/handler';
import { type HeaderField, HpackDecoder, HpackError, encodeResponseHeaders } from './hpack';

export interface H2Request {
  readonly method: string;
  readonly path: string;
  readonly scheme: string;
  readonly authority: string;
  /** The regular fields, in order (cookie crumbs joined, §8.2.3). */
  readonly headers: readonly HeaderField[];
  /** The body; null when the request had none. */
  readonly body: Uint8Array | null;
}

/** Lowercase header names; content-length is the handler's to set. */
export type H2Response = HttpReply;

export type H2Handler = (req: H2Request) => H2Response | Promise<H2Response>;

export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce and enforce. */
  readonly maxConcurrentStreams: number;
  /** A request body larger than this gets 413 without being read further. */
  readonly maxBodySize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, and the bound on one header block's encoded size. */
  readonly maxHeaderListSize: number;
  /** Request body bytes held for all streams of the connection at once; beyond: GOAWAY. */
  readonly maxBufferedBodies: number;
}

export const DEFAULT_LIMITS: H2Limits = {
  maxConcurrentStreams: 128,
  maxBodySize: 1 << 20,
  maxHeaderListSize: 65_536,
  maxBufferedBodies: 4 << 20,
};

/** A connection error (§5.4.1): GOAWAY with this code, then close. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Stream {
  readonly id: number;
  /** END_STREAM received: the request is complete (half-closed remote). */
  recvClosed: boolean;
  /** The request as read, its body null until it is complete. */
  request: H2Request | null;
  contentLength: number | null;
  body: Uint8Array[];
  bodyLength: number;
  /** The handler has the request. */
  dispatched: boolean;
  /** Response body still to send, and our window on this stream. */
  sendWindow: number;
  pending: Uint8Array | null;
  pendingAt: number;
  headOnly: boolean;
  /** The handler's answer is still to come. */
  working: boolean;
}

/** Headers that have no place in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

export class H2Connection {
  private readonly streams = new Map<number, Stream>();
  private readonly decoder = new HpackDecoder();
  private output: Uint8Array[] = [];
  private input: Uint8Array = new Uint8Array(0);
  private prefaceSeen = 0;
  private settingsSeen = false;
  private lastStreamId = 0;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  /** A header block still waiting for CONTINUATION frames. */
  private partial: {
    stream: number;
    endStream: boolean;
    parts: Uint8Array[];
    size: number;
  } | null = null;
  private goingAway = false;
  /** Request body bytes held until their requests complete. */
  private bufferedBodies = 0;
  /**
   * Handlers still working for streams the client has reset: they count against the stream
   * limit until they finish, so resetting streams cannot start unbounded work (the HTTP/2
   * "rapid reset" attack, CVE-2023-44487).
   */
  private orphans = 0;
  /** No more input is read; the adapter closes once the output is written. */
  closed = false;

  constructor(
    private readonly handler: H2Handler,
    /** Called when output is waiting; the adapter calls takeOutput() soon after. */
    private readonly wake: () => void,
    private readonly limits: H2Limits = DEFAULT_LIMITS,
  ) {
    // §3.4: the server's preface is a SETTINGS frame.
    this.send(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams],
        [Setting.MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize],
        [Setting.ENABLE_PUSH, 0],
      ]),
    );
  }

  /** Streams whose response is not fully sent. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** The frames queued since the last call. */
  takeOutput(): Uint8Array[] {
    const out = this.output;
    this.output = [];
    return out;
  }

  /** Graceful close (§6.8): GOAWAY, finish the streams already started, then close. */
  goAway(): void {
    if (this.goingAway || this.closed) return;
    this.goingAway = true;
    this.send(wordsFrame(FrameType.GOAWAY, 0, [this.lastStreamId, ErrorCode.NO_ERROR]));
    this.closeIfDone();
  }

  /** Feeds bytes from the peer. Never throws: protocol errors become GOAWAY or RST_STREAM. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      this.parse(chunk);
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else this.fail(ErrorCode.INTERNAL_ERROR, 'internal error');
    }
  }

  private parse(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.input.length > 0) {
      buf = new Uint8Array(this.input.length + chunk.length);
      buf.set(this.input);
      buf.set(chunk, this.input.length);
    }
    let at = 0;
    if (this.prefaceSeen < CLIENT_PREFACE.length) {
      while (this.prefaceSeen < CLIENT_PREFACE.length && at < buf.length) {
        if (buf[at++] !== CLIENT_PREFACE[this.prefaceSeen++]) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'bad connection preface');
        }
      }
    }
    while (!this.closed && buf.length - at >= FRAME_HEADER_SIZE) {
      const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      }
      if (buf.length - at < FRAME_HEADER_SIZE + length) break;
      const type = buf[at + 3]!;
      const flags = buf[at + 4]!;
      const stream =
        ((buf[at + 5]! & 0x7f) << 24) | (buf[at + 6]! << 16) | (buf[at + 7]! << 8) | buf[at + 8]!;
      const payload = buf.subarray(at + FRAME_HEADER_SIZE, at + FRAME_HEADER_SIZE + length);
      at += FRAME_HEADER_SIZE + length;
      this.onFrame(type, flags, stream, payload);
    }
    this.input = at < buf.length ? buf.slice(at) : new Uint8Array(0);
  }

  private onFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    // §3.4: the client's preface ends with its SETTINGS frame.
    if (!this.settingsSeen && type !== FrameType.SETTINGS) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'first frame is not SETTINGS');
    }
    // §6.10: nothing may come between HEADERS and its CONTINUATION frames.
    if (this.partial && (type !== FrameType.CONTINUATION || id !== this.partial.stream)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, streamId(id), payload);
      case FrameType.HEADERS:
        return this.onHeaders(flags, streamId(id), payload);
      case FrameType.PRIORITY:
        streamId(id);
        if (payload.length !== 5) this.resetStream(id, ErrorCode.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM:
        return this.onReset(streamId(id), payload);
      case FrameType.SETTINGS:
        return this.onSettings(flags, connectionId(id), payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        connectionId(id);
        if (payload.length !== 8)
          throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING size');
        if ((flags & Flag.ACK) === 0) this.send(frame(FrameType.PING, Flag.ACK, 0, payload));
        return;
      case FrameType.GOAWAY:
        connectionId(id);
        // The peer starts no more streams; finish ours and close.
        this.goingAway = true;
        return this.closeIfDone();
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, streamId(id), payload);
      default:
        return; // §4.1: unknown frame types are ignored
    }
  }

  private onSettings(flags: number, _id: number, payload: Uint8Array): void {
    if (flags & Flag.ACK) {
      if (payload.length !== 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS');
    const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
    for (let i = 0; i < payload.length; i += 6) {
      const key = view.getUint16(i);
      const value = view.getUint32(i + 2);
      if (key === Setting.ENABLE_PUSH && value > 1) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'ENABLE_PUSH');
      }
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) {
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE');
        }
        // §6.9.2: the change applies to every open stream's window.
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) {
            throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow');
          }
        }
      }
      if (key === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 16_777_215) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'MAX_FRAME_SIZE');
        }
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder never uses the dynamic table; others are advisory.
    }
    this.settingsSeen = true;
    this.send(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.pump();
  }

  private onHeaders(flags: number, id: number, payload: Uint8Array): void {
    // §6.2: the priority fields (5 octets) come after the Pad Length.
    const fragment = unpadded('HEADERS', payload, flags, flags & Flag.PRIORITY ? 5 : 0);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) return this.onHeaderBlock(id, endStream, fragment);
    this.partial = { stream: id, endStream, parts: [fragment.slice()], size: fragment.length };
  }

  private onContinuation(flags: number, id: number, payload: Uint8Array): void {
    const p = this.partial;
    if (!p || p.stream !== id) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
    }
    p.size += payload.length;
    if (p.size > this.limits.maxHeaderListSize) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    }
    p.parts.push(payload.slice());
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.partial = null;
    this.onHeaderBlock(id, p.endStream, joined(p.parts, p.size));
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Uint8Array): void {
    let fields: HeaderField[];
    try {
      // Every block is decoded, even for a refused stream: the table state is shared (§4.1).
      fields = this.decoder.decode(block, this.limits.maxHeaderListSize);
    } catch (err) {
      const reason = err instanceof HpackError ? err.message : 'undecodable';
      throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, `HPACK: ${reason}`);
    }
    const existing = this.streams.get(id);
    if (existing) {
      // Trailers (§8.1): they must end the stream; their fields are not used.
      if (existing.recvClosed) return this.resetStream(id, ErrorCode.STREAM_CLOSED);
      if (!endStream) return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
      existing.recvClosed = true;
      return this.requestComplete(existing);
    }
    if (id % 2 === 0 || id <= this.lastStreamId) {
      // §5.1.1: a new stream's ID is odd and larger than every earlier one.
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `unexpected stream ${id}`);
    }
    this.lastStreamId = id;
    if (this.goingAway) return; // §6.8: streams after our GOAWAY are ignored
    if (this.streams.size + this.orphans >= this.limits.maxConcurrentStreams) {
      return this.resetStream(id, ErrorCode.REFUSED_STREAM);
    }
    const request = requestOf(fields);
    if (!request) return this.resetStream(id, ErrorCode.PROTOCOL_ERROR); // malformed (§8.1.1)
    const declared = request.headers.find(([n]) => n === 'content-length')?.[1];
    const stream: Stream = {
      id,
      recvClosed: endStream,
      request,
      contentLength: declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null,
      body: [],
      bodyLength: 0,
      dispatched: false,
      sendWindow: this.peerInitialWindow,
      pending: null,
      pendingAt: 0,
      headOnly: request.method === 'HEAD',
      working: false,
    };
    if (declared !== undefined && stream.contentLength === null) {
      return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
    }
    this.streams.set(id, stream);
    if (stream.contentLength !== null && stream.contentLength > this.limits.maxBodySize) {
      return this.tooLarge(stream);
    }
    if (endStream) this.requestComplete(stream);
  }

  private onData(flags: number, id: number, payload: Uint8Array): void {
    // Flow control counts the whole payload, padding included (§6.9.1).
    this.connRecvWindow -= payload.length;
    if (this.connRecvWindow < 0) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    }
    if (payload.length > 0) {
      this.connRecvWindow += payload.length;
      this.send(wordsFrame(FrameType.WINDOW_UPDATE, 0, [payload.length]));
    }
    const data = unpadded('DATA', payload, flags, 0);
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastStreamId) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      }
      return; // a closed or reset stream: ignored (§5.1, §6.4), its window refunded above
    }
    if (s.recvClosed) return this.resetStream(id, ErrorCode.STREAM_CLOSED);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (!endStream && payload.length > 0) {
      this.send(wordsFrame(FrameType.WINDOW_UPDATE, id, [payload.length]));
    }
    if (s.dispatched) {
      // Answered early (413): the rest is read and dropped.
      if (endStream) s.recvClosed = true;
      return;
    }
    s.bodyLength += data.length;
    if (s.bodyLength > this.limits.maxBodySize) return this.tooLarge(s);
    this.bufferedBodies += data.length;
    if (this.bufferedBodies > this.limits.maxBufferedBodies) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too much request body buffered');
    }
    s.body.push(data.slice());
    if (endStream) {
      s.recvClosed = true;
      this.requestComplete(s);
    }
  }

  private onReset(id: number, payload: Uint8Array): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM');
    if (id > this.lastStreamId) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    }
    const s = this.streams.get(id);
    if (s) this.forget(s);
    this.closeIfDone();
  }

  private onWindowUpdate(id: number, payload: Uint8Array): void {
    if (payload.length !== 4)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE');
    const increment =
      ((payload[0]! & 0x7f) << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!;
    if (id === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'zero increment');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow');
      }
    } else {
      const s = this.streams.get(id);
      if (!s) return; // closed, or reset by us: ignored
      if (increment === 0) return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
      s.sendWindow += increment;
      if (s.sendWindow > MAX_WINDOW) return this.resetStream(id, ErrorCode.FLOW_CONTROL_ERROR);
    }
    this.pump();
  }

  private requestComplete(s: Stream): void {
    if (s.dispatched || !s.request) return;
    if (s.contentLength !== null && s.contentLength !== s.bodyLength) {
      // §8.1.1: content-length must match the DATA frames' total.
      return this.resetStream(s.id, ErrorCode.PROTOCOL_ERROR);
    }
    s.dispatched = true;
    this.bufferedBodies -= s.bodyLength;
    const body = s.body.length === 0 ? null : joined(s.body, s.bodyLength);
    s.body = [];
    let result: H2Response | Promise<H2Response>;
    try {
      const r = s.request;
      result = this.handler(
        body === null
          ? r
          : {
              method: r.method,
              path: r.path,
              scheme: r.scheme,
              authority: r.authority,
              headers: r.headers,
              body,
            },
      );
    } catch (err) {
      result = internalErrorReply(err);
    }
    if (result instanceof Promise) {
      s.working = true;
      const settle = (res: H2Response) => {
        s.working = false;
        if (this.streams.get(s.id) === s) this.respond(s, res);
        else this.orphans--;
      };
      result.then(settle, (err: unknown) => settle(internalErrorReply(err)));
    } else {
      this.respond(s, result);
    }
  }

  private tooLarge(s: Stream): void {
    this.dropBody(s);
    s.dispatched = true;
    this.respond(s, textReply(413, `body exceeds ${this.limits.maxBodySize} bytes`));
  }

  private respond(s: Stream, res: H2Response): void {
    if (this.closed || this.streams.get(s.id) !== s) return; // reset meanwhile
    const block = encodeResponseHeaders(res.status, res.headers);
    const empty = res.body.length === 0 || s.headOnly;
    const n = res.body.length;
    if (
      !empty &&
      block.length <= this.peerMaxFrame &&
      n <= this.peerMaxFrame &&
      n <= this.connSendWindow &&
      n <= s.sendWindow
    ) {
      // The usual DoH answer: HEADERS and the whole body in one DATA frame, one buffer.
      const out = new Uint8Array(2 * FRAME_HEADER_SIZE + block.length + n);
      writeFrameHeader(out, 0, block.length, FrameType.HEADERS, Flag.END_HEADERS, s.id);
      out.set(block, FRAME_HEADER_SIZE);
      const data = FRAME_HEADER_SIZE + block.length;
      writeFrameHeader(out, data, n, FrameType.DATA, Flag.END_STREAM, s.id);
      out.set(res.body, data + FRAME_HEADER_SIZE);
      this.connSendWindow -= n;
      s.sendWindow -= n;
      this.send(out);
      return this.finish(s);
    }
    let first = true;
    for (let at = 0; first || at < block.length; first = false) {
      const part = block.subarray(at, at + this.peerMaxFrame);
      at += part.length;
      const last = at >= block.length;
      const flags = (last ? Flag.END_HEADERS : 0) | (first && empty ? Flag.END_STREAM : 0);
      this.send(frame(first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, s.id, part));
    }
    if (empty) return this.finish(s);
    s.pending = res.body;
    s.pendingAt = 0;
    this.pump();
  }

  /** Sends what the flow-control windows allow of every pending response body (§6.9). */
  private pump(): void {
    for (const s of this.streams.values()) {
      const body = s.pending;
      if (!body) continue;
      while (s.pendingAt < body.length && this.connSendWindow > 0 && s.sendWindow > 0) {
        const n = Math.min(
          body.length - s.pendingAt,
          this.peerMaxFrame,
          this.connSendWindow,
          s.sendWindow,
        );
        const last = s.pendingAt + n === body.length;
        const header = frame(FrameType.DATA, last ? Flag.END_STREAM : 0, s.id);
        header[0] = n >>> 16;
        header[1] = (n >>> 8) & 0xff;
        header[2] = n & 0xff;
        this.send(header);
        this.send(body.subarray(s.pendingAt, s.pendingAt + n));
        s.pendingAt += n;
        this.connSendWindow -= n;
        s.sendWindow -= n;
      }
      if (s.pendingAt === body.length) this.finish(s);
      if (this.connSendWindow <= 0) break;
    }
  }

  private finish(s: Stream): void {
    s.pending = null;
    this.streams.delete(s.id);
    // §8.1: a response sent before the request ended asks the client to stop sending.
    if (!s.recvClosed) this.send(wordsFrame(FrameType.RST_STREAM, s.id, [ErrorCode.NO_ERROR]));
    this.closeIfDone();
  }

  /** Forgets a request body that will not be handed over. */
  private dropBody(s: Stream): void {
    if (!s.dispatched) this.bufferedBodies -= s.body.reduce((n, part) => n + part.length, 0);
    s.body = [];
  }

  /** Removes a stream before its response is complete. */
  private forget(s: Stream): void {
    this.dropBody(s);
    this.streams.delete(s.id);
    if (s.working) this.orphans++;
  }

  private resetStream(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s) this.forget(s);
    this.send(wordsFrame(FrameType.RST_STREAM, id, [code]));
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (this.goingAway && this.streams.size === 0 && !this.closed) {
      this.closed = true;
      this.wake();
    }
  }

  private fail(code: number, reason: string): void {
    const debug = new TextEncoder().encode(reason.slice(0, 200));
    const payload = new Uint8Array(8 + debug.length);
    const view = new DataView(payload.buffer);
    view.setUint32(0, this.lastStreamId);
    view.setUint32(4, code);
    payload.set(debug, 8);
    this.send(frame(FrameType.GOAWAY, 0, 0, payload));
    this.streams.clear();
    this.closed = true;
    this.wake();
  }

  private send(bytes: Uint8Array): void {
    if (this.output.length === 0) this.wake();
    this.output.push(bytes);
  }
}

/**
 * A HEADERS or DATA payload without its Pad Length octet, its padding and `skip` more leading
 * octets (§6.1, §6.2): FRAME_SIZE_ERROR without room for the Pad Length, PROTOCOL_ERROR when the
 * padding is longer than what is left.
 */
function unpadded(what: string, payload: Uint8Array, flags: number, skip: number): Uint8Array {
  let start = skip;
  let end = payload.length;
  if (flags & Flag.PADDED) {
    if (payload.length < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, what);
    end -= payload[0]!;
    start += 1;
  }
  if (end < start) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} padding`);
  return payload.subarray(start, end);
}

/** The parts as one array (the part itself when there is one). */
function joined(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function streamId(id: number): number {
  if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'frame needs a stream');
  return id;
}

function connectionId(id: number): number {
  if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'frame is for stream 0');
  return id;
}

/**
 * The request of a header list, or null when it is malformed (§8.3.1): pseudo-header fields
 * first, each once, only the request ones; :method, :scheme and :path present (CONNECT aside);
 * lowercase names; no connection-specific fields; `te` at most "trailers".
 */
function requestOf(fields: readonly HeaderField[]): H2Request | null {
  let method = '';
  let path = '';
  let scheme = '';
  let authority = '';
  const headers: HeaderField[] = [];
  const cookies: string[] = [];
  let regular = false;
  for (const [name, value] of fields) {
    if (name.startsWith(':')) {
      if (regular) return null;
      if (name === ':method' && !method) method = value;
      else if (name === ':path' && !path) path = value;
      else if (name === ':scheme' && !scheme) scheme = value;
      else if (name === ':authority' && !authority) authority = value;
      else return null;
      continue;
    }
    regular = true;
    if (name !== name.toLowerCase() || name === '' || CONNECTION_SPECIFIC.has(name)) return null;
    if (name === 'te' && value !== 'trailers') return null;
    if (name === 'cookie') cookies.push(value);
    else headers.push([name, value]);
  }
  if (cookies.length > 0) headers.push(['cookie', cookies.join('; ')]);
  if (!method) return null;
  if (method !== 'CONNECT' && (!path || !scheme)) return null;
  return { method, path, scheme, authority, headers, body: null };
}
