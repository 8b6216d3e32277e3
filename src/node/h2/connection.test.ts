import { describe, expect, it } from 'vitest';
import { type H2Handler, type H2Request, H2Connection } from './connection';
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FrameType,
  Setting,
  frame,
  settingsFrame,
  wordsFrame,
} from './frames';
import { HpackDecoder } from './hpack';
import { joinBytes, literalBlock } from '../../../test/helpers/h2';

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

const GET = (path: string): [string, string][] => [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'doh.test'],
];

function frames(chunks: Uint8Array[]): Frame[] {
  const all = joinBytes(chunks);
  const out: Frame[] = [];
  for (let i = 0; i < all.length;) {
    const length = (all[i]! << 16) | (all[i + 1]! << 8) | all[i + 2]!;
    const stream = new DataView(all.buffer).getUint32(i + 5) & 0x7fffffff;
    out.push({
      type: all[i + 3]!,
      flags: all[i + 4]!,
      stream,
      payload: all.slice(i + 9, i + 9 + length),
    });
    i += 9 + length;
  }
  return out;
}

const word = (f: Frame, i = 0) => new DataView(f.payload.buffer).getUint32(i * 4);

/** A connection past the preface and SETTINGS exchange, with its handler's requests. */
function open(handler?: H2Handler, settings: [number, number][] = []) {
  const requests: H2Request[] = [];
  const conn = new H2Connection(
    handler ??
      ((req) => {
        requests.push(req);
        const body = new TextEncoder().encode(`you asked ${req.method} ${req.path}`);
        return { status: 200, headers: [['content-length', String(body.length)]], body };
      }),
    () => {},
  );
  const preface = frames(conn.takeOutput());
  conn.receive(CLIENT_PREFACE);
  conn.receive(settingsFrame(settings));
  const ack = frames(conn.takeOutput());
  return { conn, requests, preface, ack, out: () => frames(conn.takeOutput()) };
}

const headersFrame = (
  stream: number,
  fields: [string, string][],
  flags = Flag.END_HEADERS | Flag.END_STREAM,
) => frame(FrameType.HEADERS, flags, stream, literalBlock(fields));

describe('HTTP/2 connection: preface and settings (RFC 9113 3.4, 6.5)', () => {
  it('opens with its SETTINGS and acknowledges the client SETTINGS', () => {
    const { preface, ack } = open();
    expect(preface).toHaveLength(1);
    expect(preface[0]!.type).toBe(FrameType.SETTINGS);
    const view = new DataView(preface[0]!.payload.buffer);
    const settings = [0, 6, 12].map((i) => [view.getUint16(i), view.getUint32(i + 2)]);
    expect(settings).toEqual([
      [Setting.MAX_CONCURRENT_STREAMS, 128],
      [Setting.MAX_HEADER_LIST_SIZE, 65_536],
      [Setting.ENABLE_PUSH, 0],
    ]);
    expect(ack).toEqual([
      { type: FrameType.SETTINGS, flags: Flag.ACK, stream: 0, payload: new Uint8Array(0) },
    ]);
  });

  it('closes with GOAWAY PROTOCOL_ERROR on a wrong preface or a first frame that is not SETTINGS', () => {
    const a = new H2Connection(
      () => ({ status: 204, headers: [], body: new Uint8Array(0) }),
      () => {},
    );
    a.takeOutput();
    a.receive(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'.padEnd(24)));
    const [goaway] = frames(a.takeOutput());
    expect([goaway!.type, word(goaway!, 1), a.closed]).toEqual([
      FrameType.GOAWAY,
      ErrorCode.PROTOCOL_ERROR,
      true,
    ]);

    const b = new H2Connection(
      () => ({ status: 204, headers: [], body: new Uint8Array(0) }),
      () => {},
    );
    b.takeOutput();
    b.receive(CLIENT_PREFACE);
    b.receive(frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    expect(word(frames(b.takeOutput())[0]!, 1)).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('answers PING with an ACK carrying the same 8 bytes, in pieces as they arrive', () => {
    const { conn, out } = open();
    const ping = frame(FrameType.PING, 0, 0, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    conn.receive(ping.subarray(0, 5));
    expect(out()).toEqual([]);
    conn.receive(ping.subarray(5));
    expect(out()).toEqual([
      {
        type: FrameType.PING,
        flags: Flag.ACK,
        stream: 0,
        payload: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
      },
    ]);
  });

  it('refuses bad SETTINGS values with the error codes of RFC 9113 6.5.2', () => {
    const cases: [number, number, number][] = [
      [Setting.ENABLE_PUSH, 2, ErrorCode.PROTOCOL_ERROR],
      [Setting.INITIAL_WINDOW_SIZE, 2 ** 31, ErrorCode.FLOW_CONTROL_ERROR],
      [Setting.MAX_FRAME_SIZE, 100, ErrorCode.PROTOCOL_ERROR],
    ];
    for (const [id, value, code] of cases) {
      const { conn, out } = open();
      conn.receive(settingsFrame([[id, value]]));
      const [goaway] = out();
      expect([goaway!.type, word(goaway!, 1)]).toEqual([FrameType.GOAWAY, code]);
    }
  });
});

describe('HTTP/2 connection: requests and responses', () => {
  it('hands a GET to the handler and sends HEADERS then DATA with END_STREAM', () => {
    const { conn, requests, out } = open();
    conn.receive(
      headersFrame(1, [...GET('/dns-query?dns=AAAB'), ['accept', 'application/dns-message']]),
    );
    expect(requests).toEqual([
      {
        method: 'GET',
        path: '/dns-query?dns=AAAB',
        scheme: 'http',
        authority: 'doh.test',
        headers: [['accept', 'application/dns-message']],
        body: null,
      },
    ]);
    const [headers, data] = out();
    expect([headers!.type, headers!.flags, headers!.stream]).toEqual([
      FrameType.HEADERS,
      Flag.END_HEADERS,
      1,
    ]);
    expect(new HpackDecoder().decode(headers!.payload, 1e5)).toEqual([
      [':status', '200'],
      ['content-length', String('you asked GET /dns-query?dns=AAAB'.length)],
    ]);
    expect([data!.type, data!.flags, data!.stream]).toEqual([FrameType.DATA, Flag.END_STREAM, 1]);
    expect(new TextDecoder().decode(data!.payload)).toBe('you asked GET /dns-query?dns=AAAB');
    expect(conn.activeStreams).toBe(0);
  });

  it('assembles a POST body from padded DATA frames, refunding the windows', () => {
    const { conn, requests, out } = open();
    const post: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'https'],
      [':path', '/dns-query'],
      ['content-type', 'application/dns-message'],
      ['content-length', '5'],
    ];
    conn.receive(headersFrame(3, post, Flag.END_HEADERS));
    conn.receive(frame(FrameType.DATA, Flag.PADDED, 3, Uint8Array.from([2, 1, 2, 0, 0])));
    conn.receive(frame(FrameType.DATA, Flag.END_STREAM, 3, Uint8Array.from([3, 4, 5])));
    expect(requests[0]!.body).toEqual(Uint8Array.from([1, 2, 3, 4, 5]));
    const sent = out();
    const updates = sent
      .filter((f) => f.type === FrameType.WINDOW_UPDATE)
      .map((f) => [f.stream, word(f)]);
    // 5 bytes (padding counts) on the connection and the stream, then 3 on the connection only.
    expect(updates).toEqual([
      [0, 5],
      [3, 5],
      [0, 3],
    ]);
  });

  it('joins HEADERS and CONTINUATION, and treats anything in between as a connection error', () => {
    const { conn, requests, out } = open();
    const b = literalBlock(GET('/split'));
    conn.receive(frame(FrameType.HEADERS, Flag.END_STREAM, 1, b.subarray(0, 10)));
    conn.receive(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, b.subarray(10)));
    expect(requests.map((r) => r.path)).toEqual(['/split']);
    out();
    conn.receive(frame(FrameType.HEADERS, Flag.END_STREAM, 3, b.subarray(0, 10)));
    conn.receive(frame(FrameType.PING, 0, 0, new Uint8Array(8)));
    const [goaway] = out();
    // Stream 3 never completed its header block, so stream 1 is the last one processed.
    expect([goaway!.type, word(goaway!, 0), word(goaway!, 1)]).toEqual([
      FrameType.GOAWAY,
      1,
      ErrorCode.PROTOCOL_ERROR,
    ]);
  });

  it('resets malformed requests with PROTOCOL_ERROR and keeps the connection (RFC 9113 8.1.1)', () => {
    const { conn, requests, out } = open();
    const malformed: [string, string][][] = [
      [
        [':method', 'GET'],
        [':path', '/'],
      ], // no :scheme
      [...GET('/'), ['Accept', 'x']], // uppercase name
      [...GET('/'), ['connection', 'keep-alive']],
      [['accept', 'x'], ...GET('/')], // pseudo-header after a regular one
      [...GET('/'), [':status', '200']],
      [...GET('/'), ['te', 'gzip']],
    ];
    malformed.forEach((fields, i) => conn.receive(headersFrame(2 * i + 1, fields)));
    expect(requests).toEqual([]);
    expect(out().map((f) => [f.type, f.stream, word(f)])).toEqual(
      malformed.map((_, i) => [FrameType.RST_STREAM, 2 * i + 1, ErrorCode.PROTOCOL_ERROR]),
    );
    conn.receive(headersFrame(13, GET('/fine')));
    expect(requests.map((r) => r.path)).toEqual(['/fine']);
  });

  it('resets a body that does not match content-length', () => {
    const { conn, requests, out } = open();
    const fields: [string, string][] = [...GET('/x'), ['content-length', '4']];
    fields[0] = [':method', 'POST'];
    conn.receive(headersFrame(1, fields, Flag.END_HEADERS));
    conn.receive(frame(FrameType.DATA, Flag.END_STREAM, 1, Uint8Array.from([1, 2])));
    expect(requests).toEqual([]);
    expect(
      out()
        .filter((f) => f.type === FrameType.RST_STREAM)
        .map((f) => [f.stream, word(f)]),
    ).toEqual([[1, ErrorCode.PROTOCOL_ERROR]]);
  });

  it('refuses streams beyond SETTINGS_MAX_CONCURRENT_STREAMS with REFUSED_STREAM', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { conn, out } = open(async () => {
      await gate;
      return { status: 204, headers: [], body: new Uint8Array(0) };
    });
    for (let i = 0; i < 129; i++) conn.receive(headersFrame(2 * i + 1, GET(`/${i}`)));
    expect(out().map((f) => [f.type, f.stream, word(f)])).toEqual([
      [FrameType.RST_STREAM, 257, ErrorCode.REFUSED_STREAM],
    ]);
    expect(conn.activeStreams).toBe(128);
    release();
    await gate;
    await new Promise((r) => setTimeout(r, 0));
    expect(out().filter((f) => f.type === FrameType.HEADERS)).toHaveLength(128);
    expect(conn.activeStreams).toBe(0);
  });

  it('counts the work of reset streams against the limit until it ends (rapid reset)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const { conn, out } = open(async () => {
      started++;
      await gate;
      return { status: 204, headers: [], body: new Uint8Array(0) };
    });
    for (let i = 0; i < 128; i++) {
      conn.receive(headersFrame(2 * i + 1, GET(`/${i}`)));
      conn.receive(wordsFrame(FrameType.RST_STREAM, 2 * i + 1, [ErrorCode.CANCEL]));
    }
    expect([started, conn.activeStreams]).toEqual([128, 0]);
    conn.receive(headersFrame(257, GET('/more')));
    expect(out().map((f) => [f.type, f.stream, word(f)])).toEqual([
      [FrameType.RST_STREAM, 257, ErrorCode.REFUSED_STREAM],
    ]);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(out()).toEqual([]); // the reset streams' answers are dropped
    conn.receive(headersFrame(259, GET('/after')));
    expect(started).toBe(129);
  });

  it('stops at a stream ID that does not increase, and at HEADERS on an even stream', () => {
    for (const ids of [[3, 1], [2]]) {
      const { conn, out } = open();
      for (const id of ids) conn.receive(headersFrame(id, GET('/')));
      const goaway = out().find((f) => f.type === FrameType.GOAWAY)!;
      expect(word(goaway, 1)).toBe(ErrorCode.PROTOCOL_ERROR);
    }
  });

  it('answers 413 to a body over the limit and resets the rest with NO_ERROR', () => {
    const { conn, requests, out } = open();
    const fields: [string, string][] = [...GET('/big')];
    fields[0] = [':method', 'POST'];
    conn.receive(headersFrame(1, fields, Flag.END_HEADERS));
    for (let i = 0; i < 65; i++) conn.receive(frame(FrameType.DATA, 0, 1, new Uint8Array(16_384)));
    expect(requests).toEqual([]);
    const sent = out().filter((f) => f.type !== FrameType.WINDOW_UPDATE);
    expect(new HpackDecoder().decode(sent[0]!.payload, 1e5)[0]).toEqual([':status', '413']);
    expect(new TextDecoder().decode(sent[1]!.payload)).toBe('body exceeds 1048576 bytes\n');
    expect([sent[2]!.type, sent[2]!.stream, word(sent[2]!)]).toEqual([
      FrameType.RST_STREAM,
      1,
      ErrorCode.NO_ERROR,
    ]);
  });
  it('ends the connection with ENHANCE_YOUR_CALM past 4 MiB of request bodies held at once', () => {
    const { conn, out } = open();
    const post: [string, string][] = [[':method', 'POST'], ...GET('/upload').slice(1)];
    for (let id = 1; id <= 9; id += 2) {
      conn.receive(headersFrame(id, post, Flag.END_HEADERS));
      for (let i = 0; i < 64 && !conn.closed; i++) {
        conn.receive(frame(FrameType.DATA, 0, id, new Uint8Array(16_384)));
      }
    }
    const goaway = out().find((f) => f.type === FrameType.GOAWAY)!;
    expect([word(goaway, 0), word(goaway, 1)]).toEqual([9, ErrorCode.ENHANCE_YOUR_CALM]);
  });
});

describe('HTTP/2 connection: flow control (RFC 9113 6.9)', () => {
  it('sends a body only as far as the stream window allows, and the rest on WINDOW_UPDATE', () => {
    const body = new Uint8Array(100).map((_, i) => i);
    const { conn, out } = open(
      () => ({ status: 200, headers: [], body }),
      [[Setting.INITIAL_WINDOW_SIZE, 30]],
    );
    conn.receive(headersFrame(1, GET('/')));
    const first = out().filter((f) => f.type === FrameType.DATA);
    expect(first.map((f) => [f.payload.length, f.flags])).toEqual([[30, 0]]);
    conn.receive(wordsFrame(FrameType.WINDOW_UPDATE, 1, [50]));
    conn.receive(settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 50]])); // +20 for open streams
    const rest = out().filter((f) => f.type === FrameType.DATA);
    expect(rest.map((f) => [f.payload.length, f.flags])).toEqual([
      [50, 0],
      [20, Flag.END_STREAM],
    ]);
    const all = [...first, ...rest].flatMap((f) => [...f.payload]);
    expect(all).toEqual([...body]);
  });

  it('splits a body into frames of the peer SETTINGS_MAX_FRAME_SIZE and honours the connection window', () => {
    const body = new Uint8Array(70_000);
    const { conn, out } = open(
      () => ({ status: 200, headers: [], body }),
      [[Setting.INITIAL_WINDOW_SIZE, 1 << 20]],
    );
    conn.receive(headersFrame(1, GET('/')));
    // The connection window starts at 65535 whatever the settings say.
    expect(
      out()
        .filter((f) => f.type === FrameType.DATA)
        .map((f) => f.payload.length),
    ).toEqual([16_384, 16_384, 16_384, 16_383]);
    conn.receive(wordsFrame(FrameType.WINDOW_UPDATE, 0, [10_000]));
    expect(out().map((f) => [f.payload.length, f.flags])).toEqual([
      [70_000 - 65_535, Flag.END_STREAM],
    ]);
  });

  it('treats a zero increment on the connection and a window past 2^31-1 as errors', () => {
    const a = open();
    a.conn.receive(wordsFrame(FrameType.WINDOW_UPDATE, 0, [0]));
    expect(word(a.out()[0]!, 1)).toBe(ErrorCode.PROTOCOL_ERROR);
    const b = open();
    b.conn.receive(wordsFrame(FrameType.WINDOW_UPDATE, 0, [2 ** 31 - 1]));
    expect(word(b.out()[0]!, 1)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });
});

describe('HTTP/2 connection: going away (RFC 9113 6.8)', () => {
  it('sends GOAWAY with the last stream, finishes that stream, ignores later ones, then closes', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const { conn, out } = open(async (req) => {
      seen.push(req.path);
      await gate;
      return { status: 204, headers: [], body: new Uint8Array(0) };
    });
    conn.receive(headersFrame(1, GET('/first')));
    conn.goAway();
    const [goaway] = out();
    expect([goaway!.type, word(goaway!, 0), word(goaway!, 1)]).toEqual([
      FrameType.GOAWAY,
      1,
      ErrorCode.NO_ERROR,
    ]);
    conn.receive(headersFrame(3, GET('/late')));
    expect(conn.closed).toBe(false);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual(['/first']);
    expect(out().map((f) => [f.type, f.stream, f.flags])).toEqual([
      [FrameType.HEADERS, 1, Flag.END_HEADERS | Flag.END_STREAM],
    ]);
    expect(conn.closed).toBe(true);
  });

  it('turns an HPACK error into GOAWAY COMPRESSION_ERROR', () => {
    const { conn, out } = open();
    conn.receive(
      frame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        1,
        Uint8Array.from([0xff, 0xff]),
      ),
    );
    expect(word(out()[0]!, 1)).toBe(ErrorCode.COMPRESSION_ERROR);
  });

  it('drops a response for a stream the client reset meanwhile', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { conn, out } = open(async () => {
      await gate;
      return { status: 204, headers: [], body: new Uint8Array(0) };
    });
    conn.receive(headersFrame(1, GET('/')));
    conn.receive(wordsFrame(FrameType.RST_STREAM, 1, [ErrorCode.CANCEL]));
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(out()).toEqual([]);
    expect(conn.activeStreams).toBe(0);
  });
});
