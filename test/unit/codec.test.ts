import { describe, expect, it } from 'vitest';
import { Code, FrameError, Route, decodeFrame, encodeFrame, pb, type Frame } from '../../src/protocol/index.js';

/** Decodes and returns the FrameError, failing the test if the bytes decode. */
function rejectionOf(bytes: Uint8Array): FrameError {
  try {
    decodeFrame(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error('expected decodeFrame to throw');
}

/** A raw envelope, bypassing encodeFrame so route and payload can disagree. */
function rawScheme(init: Record<string, unknown>): Uint8Array {
  return pb.MessageScheme.encode(init as never).finish();
}

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sampleMessage = {
  id: 'm-1',
  signalId: '42',
  from: { eid: 'alice@example.com', connectionResourceId: 'phone' },
  to: { eid: 'bob@example.com', connectionResourceId: '' },
  type: 1,
  timestamp: 1_700_000_000_123,
  payload: new TextEncoder().encode('{"text":"héllo"}'),
  encryptionType: 'none',
  encrypted: '',
  signature: 'c2ln',
  status: 1,
  userOffset: 7,
  serverTimestamp: 1_700_000_000_456,
};

describe('codec', () => {
  it('codec - a Message frame round-trips with route 6 and every field intact', () => {
    const frame = decodeFrame(encodeFrame('message', sampleMessage));
    expect(frame.route).toBe(Route.Message);
    expect(frame.field).toBe('message');
    const message = (frame as Extract<Frame, { field: 'message' }>).value;
    expect(message.id).toBe('m-1');
    expect(message.signalId).toBe('42');
    expect(message.from?.eid).toBe('alice@example.com');
    expect(message.from?.connectionResourceId).toBe('phone');
    expect(message.to?.eid).toBe('bob@example.com');
    expect(message.timestamp).toBe(1_700_000_000_123);
    expect(new TextDecoder().decode(message.payload)).toBe('{"text":"héllo"}');
    expect(message.signature).toBe('c2ln');
    expect(message.userOffset).toBe(7);
    expect(message.serverTimestamp).toBe(1_700_000_000_456);
  });

  it('codec - every payload kind is encoded with the route equal to its field number', () => {
    const cases: Array<[Frame['field'], object, number]> = [
      ['awareness', { id: 'aw', status: 1 }, 2],
      ['pingPong', { id: 'p', type: 1 }, 3],
      ['awarenessVisibility', { id: 'v', type: 2 }, 4],
      ['tokenAuthority', { token: 't', type: 1 }, 5],
      ['message', { id: 'm' }, 6],
      ['body', { route: 2 }, 9],
      ['error', { code: 400, id: 'e' }, 10],
      ['logout', { type: 1 }, 11],
      ['signal', { id: 's', status: 3 }, 12],
      ['ack', { id: 'a', code: 200 }, 13],
      ['offsetCommit', { userOffset: 3 }, 14],
      ['sync', { id: 'y', type: 1 }, 15],
      ['contact', { id: 'c', action: 7 }, 16],
    ];
    for (const [field, value, route] of cases) {
      const frame = decodeFrame(encodeFrame(field, value));
      expect(frame.route, field).toBe(route);
      expect(frame.field, field).toBe(field);
    }
  });

  it('codec - int64 and uint64 fields decode as JS numbers, not Long objects', () => {
    const big = 2 ** 40 + 3;
    const message = (
      decodeFrame(encodeFrame('message', { id: 'x', userOffset: big, timestamp: big + 1, status: 1, serverTimestamp: big + 2 })) as Extract<
        Frame,
        { field: 'message' }
      >
    ).value;
    expect(typeof message.userOffset).toBe('number');
    expect(message.userOffset).toBe(big);
    expect(typeof message.timestamp).toBe('number');
    expect(message.timestamp).toBe(big + 1);
    expect(typeof message.status).toBe('number');
    expect(message.serverTimestamp).toBe(big + 2);
    const frame = decodeFrame(encodeFrame('sync', { id: 's', type: 2, headOffset: Number.MAX_SAFE_INTEGER, afterOffset: 0 }));
    expect(typeof frame.route).toBe('number');
    const sync = (frame as Extract<Frame, { field: 'sync' }>).value;
    expect(sync.headOffset).toBe(Number.MAX_SAFE_INTEGER);
    expect(typeof sync.afterOffset).toBe('number');
  });

  it('codec - a negative int64 timestamp decodes as a negative number', () => {
    const message = (decodeFrame(encodeFrame('message', { id: 'x', timestamp: -5 })) as Extract<Frame, { field: 'message' }>).value;
    expect(message.timestamp).toBe(-5);
  });

  it('codec - bytes that are not protobuf are a FrameError 400', () => {
    const error = rejectionOf(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(0);
  });

  it('codec - random byte sequences either decode to a consistent envelope or throw FrameError 400', () => {
    const random = prng(0xb1b1);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      try {
        const frame = decodeFrame(bytes);
        // Anything accepted must satisfy SPEC §3: the payload set is the one the route names.
        expect(encodeFrame(frame.field, frame.value)[1], 'route byte').toBe(frame.route);
      } catch (err) {
        expect(err).toBeInstanceOf(FrameError);
        expect((err as FrameError).code).toBe(Code.BadRequest);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1900);
  });

  it('codec - every truncation of a valid frame is a FrameError 400', () => {
    const bytes = encodeFrame('message', sampleMessage);
    for (let length = 0; length < bytes.length; length++) {
      const error = rejectionOf(bytes.subarray(0, length));
      expect(error.code, `prefix of ${length} bytes`).toBe(Code.BadRequest);
    }
  });

  it('codec - an empty frame (no route, no payload) is a 400', () => {
    expect(rejectionOf(new Uint8Array(0)).code).toBe(Code.BadRequest);
  });

  it('codec - route 6 carrying an Ack payload is a 400 naming route 6 and the ack id', () => {
    const error = rejectionOf(rawScheme({ route: 6, ack: { id: 'ack-1', code: 200 } }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(6);
    expect(error.id).toBe('ack-1');
  });

  it('codec - route 13 carrying a Message payload is a 400 naming route 13 and the message id', () => {
    const error = rejectionOf(rawScheme({ route: 13, message: { id: 'm-9' } }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(13);
    expect(error.id).toBe('m-9');
  });

  it('codec - reserved route 7 is a 400 with route 7 and the payload id', () => {
    const error = rejectionOf(rawScheme({ route: 7, message: { id: 'm-7' } }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(7);
    expect(error.id).toBe('m-7');
  });

  it('codec - unknown route 99 is a 400 with route 99 and the payload id', () => {
    const error = rejectionOf(rawScheme({ route: 99, pingPong: { id: 'p-99', type: 1 } }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(99);
    expect(error.id).toBe('p-99');
  });

  it('codec - a route with no payload is a 400 with that route and an empty id', () => {
    const error = rejectionOf(rawScheme({ route: 6 }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(6);
    expect(error.id).toBe('');
  });

  it('codec - a payload whose id is not a string (OffsetCommit) reports an empty id', () => {
    const error = rejectionOf(rawScheme({ route: 15, offsetCommit: { userOffset: 4 } }));
    expect(error.code).toBe(Code.BadRequest);
    expect(error.route).toBe(15);
    expect(error.id).toBe('');
  });
});
