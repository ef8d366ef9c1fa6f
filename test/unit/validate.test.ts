import { describe, expect, it } from 'vitest';
import {
  Code,
  DEFAULT_LIMITS,
  Route,
  checkMessage,
  checkOffsetCommit,
  checkPingPong,
  checkSyncRequest,
  pb,
  type Message,
  type MessageInit,
  type OffsetCommit,
  type PingPong,
  type PingPongInit,
  type Sync,
  type SyncInit,
} from '../../src/protocol/index.js';

const limits = DEFAULT_LIMITS;

/** Builds a Message as the server sees it: encoded on the wire and decoded (defaults filled in). */
function message(overrides: MessageInit = {}): Message {
  const init: MessageInit = { id: 'm-1', to: { eid: 'bob@example.com' }, type: 1, payload: new Uint8Array([1, 2, 3]), ...overrides };
  return pb.Message.decode(pb.Message.encode(init).finish());
}
const sync = (init: SyncInit): Sync => pb.Sync.decode(pb.Sync.encode(init).finish());
const ping = (init: PingPongInit): PingPong => pb.PingPong.decode(pb.PingPong.encode(init).finish());
const commitOf = (bytes: Uint8Array): OffsetCommit => pb.OffsetCommit.decode(bytes);

const bytesOf = (length: number): Uint8Array => new Uint8Array(length).fill(0x61);
const chars = (char: string, count: number): string => char.repeat(count);

describe('validate - checkMessage', () => {
  it('validate - a plain chat message is accepted', () => {
    expect(checkMessage(message(), limits)).toBeUndefined();
  });

  it('validate - an empty id is a 400 on route 6', () => {
    const problem = checkMessage(message({ id: '' }), limits);
    expect(problem?.code).toBe(Code.BadRequest);
    expect(problem?.route).toBe(Route.Message);
  });

  it('validate - a 128-byte id is accepted and a 129-byte id is a 400 carrying the id', () => {
    expect(checkMessage(message({ id: chars('a', 128) }), limits)).toBeUndefined();
    const id = chars('a', 129);
    const problem = checkMessage(message({ id }), limits);
    expect(problem?.code).toBe(Code.BadRequest);
    expect(problem?.id).toBe(id);
  });

  it('validate - id length counts UTF-8 bytes, not characters', () => {
    // 64 × 'é' (2 bytes) = 128 bytes: fine; 43 × '€' (3 bytes) = 129 bytes from 43 characters: too long.
    expect(checkMessage(message({ id: chars('é', 64) }), limits)).toBeUndefined();
    expect(checkMessage(message({ id: chars('€', 43) }), limits)?.code).toBe(Code.BadRequest);
    // 32 × '😀' (4 bytes, 2 UTF-16 units) = 128 bytes: fine; one more emoji is 132 bytes.
    expect(checkMessage(message({ id: chars('😀', 32) }), limits)).toBeUndefined();
    expect(checkMessage(message({ id: chars('😀', 33) }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - a message without to, or with an empty to.eid, is a 400', () => {
    expect(checkMessage(message({ to: null }), limits)?.code).toBe(Code.BadRequest);
    expect(checkMessage(message({ to: { eid: '', connectionResourceId: 'phone' } }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - a 256-byte to.eid is accepted and a 257-byte one is a 400', () => {
    expect(checkMessage(message({ to: { eid: chars('b', 256) } }), limits)).toBeUndefined();
    expect(checkMessage(message({ to: { eid: chars('b', 257) } }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - a to device id longer than 128 bytes is a 400', () => {
    expect(checkMessage(message({ to: { eid: 'bob', connectionResourceId: chars('d', 128) } }), limits)).toBeUndefined();
    expect(checkMessage(message({ to: { eid: 'bob', connectionResourceId: chars('d', 129) } }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - from is left to the handler (any value but the session identity is a 403 there)', () => {
    expect(checkMessage(message({ from: { eid: '', connectionResourceId: 'phone' } }), limits)).toBeUndefined();
  });

  it('validate - type 0 (read as CHAT), 1 and 2 are accepted; type 3 is a 400', () => {
    expect(checkMessage(message({ type: 0 }), limits)).toBeUndefined();
    expect(checkMessage(message({ type: 1 }), limits)).toBeUndefined();
    expect(checkMessage(message({ type: 2 }), limits)).toBeUndefined();
    const problem = checkMessage(message({ type: 3 }), limits);
    expect(problem?.code).toBe(Code.BadRequest);
    expect(problem?.id).toBe('m-1');
  });

  it('validate - status 0 and 1 are accepted; status 2 on a Message is a 400', () => {
    expect(checkMessage(message({ status: 0 }), limits)).toBeUndefined();
    expect(checkMessage(message({ status: 1 }), limits)).toBeUndefined();
    expect(checkMessage(message({ status: 2 }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - a negative timestamp is a 400; 0 is accepted (server time)', () => {
    expect(checkMessage(message({ timestamp: -1 }), limits)?.code).toBe(Code.BadRequest);
    expect(checkMessage(message({ timestamp: 0 }), limits)).toBeUndefined();
  });

  it('validate - content of exactly 65,536 bytes (payload + encrypted + signature) is accepted', () => {
    expect(checkMessage(message({ payload: bytesOf(65_536) }), limits)).toBeUndefined();
    expect(checkMessage(message({ payload: bytesOf(60_000), encrypted: chars('e', 5_000), signature: chars('s', 536) }), limits)).toBeUndefined();
  });

  it('validate - content over 65,536 bytes in total is a 413 carrying the id', () => {
    const payloadOnly = checkMessage(message({ payload: bytesOf(65_537) }), limits);
    expect(payloadOnly?.code).toBe(Code.TooLarge);
    expect(payloadOnly?.route).toBe(Route.Message);
    expect(payloadOnly?.id).toBe('m-1');
    // Each part is small; only the sum is over the limit.
    const summed = checkMessage(message({ payload: bytesOf(30_000), encrypted: chars('e', 30_000), signature: chars('s', 5_537) }), limits);
    expect(summed?.code).toBe(Code.TooLarge);
  });

  it('validate - multi-byte characters in encrypted and signature count as bytes towards the content limit', () => {
    // 21,846 × '€' = 65,538 bytes though only 21,846 characters.
    expect(checkMessage(message({ payload: new Uint8Array(0), encrypted: chars('€', 21_846) }), limits)?.code).toBe(Code.TooLarge);
    expect(checkMessage(message({ payload: new Uint8Array(0), signature: chars('€', 21_845) }), limits)).toBeUndefined();
  });

  it('validate - limits are configurable', () => {
    const tight = { ...limits, maxContentBytes: 10, maxIdBytes: 4 };
    expect(checkMessage(message({ id: 'abcd', payload: bytesOf(10) }), tight)).toBeUndefined();
    expect(checkMessage(message({ id: 'abcde', payload: bytesOf(1) }), tight)?.code).toBe(Code.BadRequest);
    expect(checkMessage(message({ id: 'abcd', payload: bytesOf(11) }), tight)?.code).toBe(Code.TooLarge);
  });
});

describe('validate - checkSyncRequest', () => {
  it('validate - a REQUEST with an id, after_offset and limit is accepted', () => {
    expect(checkSyncRequest(sync({ id: 's-1', type: 1, afterOffset: 10, limit: 50 }), limits)).toBeUndefined();
    expect(checkSyncRequest(sync({ id: 's-1', type: 1 }), limits)).toBeUndefined();
  });

  it('validate - a Sync REQUEST without an id is a 400 on route 15', () => {
    const problem = checkSyncRequest(sync({ id: '', type: 1 }), limits);
    expect(problem?.code).toBe(Code.BadRequest);
    expect(problem?.route).toBe(Route.Sync);
  });

  it('validate - a 129-byte Sync id is a 400', () => {
    expect(checkSyncRequest(sync({ id: chars('s', 129), type: 1 }), limits)?.code).toBe(Code.BadRequest);
  });

  it('validate - a client Sync that is not a REQUEST (RESPONSE, ERROR, 0) is a 400 carrying its id', () => {
    for (const type of [0, 2, 3]) {
      const problem = checkSyncRequest(sync({ id: 's-2', type }), limits);
      expect(problem?.code, `type ${type}`).toBe(Code.BadRequest);
      expect(problem?.id).toBe('s-2');
    }
  });

  it('validate - an after_offset beyond 2^53 is a 400', () => {
    const value = sync({ id: 's-3', type: 1 });
    value.afterOffset = 2 ** 60;
    expect(checkSyncRequest(value, limits)?.code).toBe(Code.BadRequest);
  });
});

describe('validate - checkPingPong', () => {
  it('validate - PING and PONG are accepted, with or without an id', () => {
    expect(checkPingPong(ping({ id: 'p-1', type: 1 }), limits)).toBeUndefined();
    expect(checkPingPong(ping({ id: 'p-1', type: 2 }), limits)).toBeUndefined();
    expect(checkPingPong(ping({ id: '', type: 1 }), limits)).toBeUndefined();
  });

  it('validate - PingPong type 0 or 3 is a 400 on route 3 carrying the id', () => {
    for (const type of [0, 3]) {
      const problem = checkPingPong(ping({ id: 'p-2', type }), limits);
      expect(problem?.code, `type ${type}`).toBe(Code.BadRequest);
      expect(problem?.route).toBe(Route.PingPong);
      expect(problem?.id).toBe('p-2');
    }
  });

  it('validate - a PingPong id over 128 bytes is a 400', () => {
    expect(checkPingPong(ping({ id: chars('p', 129), type: 1 }), limits)?.code).toBe(Code.BadRequest);
    expect(checkPingPong(ping({ id: chars('p', 128), type: 1 }), limits)).toBeUndefined();
  });
});

describe('validate - checkOffsetCommit', () => {
  it('validate - a commit of a normal offset (and of 0) is accepted', () => {
    expect(checkOffsetCommit(commitOf(pb.OffsetCommit.encode({ userOffset: 12 }).finish()))).toBeUndefined();
    expect(checkOffsetCommit(commitOf(pb.OffsetCommit.encode({ userOffset: 0 }).finish()))).toBeUndefined();
  });

  it('validate - a uint64 offset of 2^64-1 (not a safe integer) is a 400 on route 14', () => {
    // field 1, varint 0xffff_ffff_ffff_ffff
    const bytes = Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const decoded = commitOf(bytes);
    expect(Number.isSafeInteger(decoded.userOffset)).toBe(false);
    const problem = checkOffsetCommit(decoded);
    expect(problem?.code).toBe(Code.BadRequest);
    expect(problem?.route).toBe(Route.OffsetCommit);
  });

  it('validate - a negative or fractional offset is a 400', () => {
    const negative = pb.OffsetCommit.create({ userOffset: -1 });
    expect(checkOffsetCommit(negative)?.code).toBe(Code.BadRequest);
    const fractional = pb.OffsetCommit.create({ userOffset: 1.5 });
    expect(checkOffsetCommit(fractional)?.code).toBe(Code.BadRequest);
  });
});
