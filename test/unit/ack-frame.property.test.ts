/**
 * Issue #10: Acks are written straight into bytes instead of through protobufjs. For any Ack
 * (Unicode ids and details, zero and 53-bit numbers) both the server's and the SDK's codec read
 * from the hand-written frame exactly what they read from protobufjs' encoding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as lite from '../../packages/protocol/src/lite-codec.js';
import { encodeAckFrame, type AckFields } from '../../src/server/ack-frame.js';
import { decodeFrame, encodeFrame, pb } from '../../src/protocol/index.js';

const PLAIN = { defaults: true, longs: Number };
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);
const uint = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 127 }), fc.integer({ min: 128, max: 2 ** 53 - 1 }));
const text = fc.oneof(fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 300 }));
const ackArb: fc.Arbitrary<AckFields> = fc.record({
  id: text,
  signalId: text,
  userOffset: uint,
  status: fc.integer({ min: 0, max: 3 }),
  code: fc.constantFrom(200, 400, 403, 409, 413, 429, 500, 503),
  timestamp: uint,
  details: text,
});

describe('ack frames', () => {
  it('ack frame - the hand-written Ack reads the same as protobufjs encoding, in both codecs', () => {
    fc.assert(
      fc.property(ackArb, (ack) => {
        const expected = decodeFrame(encodeFrame('ack', ack));
        const written = encodeAckFrame(ack);
        const actual = decodeFrame(written);
        expect(actual.route).toBe(expected.route);
        expect(actual.field).toBe('ack');
        expect(pb.Ack.toObject(actual.value as InstanceType<typeof pb.Ack>, PLAIN)).toEqual(
          pb.Ack.toObject(expected.value as InstanceType<typeof pb.Ack>, PLAIN),
        );
        const inSdk = lite.decodeFrame(written);
        expect(inSdk.field).toBe('ack');
        expect(inSdk.value).toMatchObject({ id: ack.id, signalId: ack.signalId, userOffset: ack.userOffset, code: ack.code, details: ack.details });
      }),
      { numRuns: 500, seed },
    );
  });

  it('ack frame - numbers a varint of a non-negative integer cannot carry fall back to protobufjs', () => {
    const odd = { id: 'm1', signalId: '', userOffset: 0, status: 0, code: -1, timestamp: 1.5, details: '' };
    expect(Buffer.from(encodeAckFrame(odd))).toEqual(Buffer.from(encodeFrame('ack', odd)));
  });
});
