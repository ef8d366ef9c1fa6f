/**
 * The SDK's small codec (packages/protocol/src/lite-codec.ts) against the server's protobufjs
 * codec: every frame kind decodes to the same values whichever side encoded it, and arbitrary
 * bytes give a frame or a FrameError 400, never another exception. FC_SEED=<n> replays a run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../packages/protocol/src/frame-error.js';
import * as lite from '../../packages/protocol/src/lite-codec.js';
import { Code, PAYLOAD_FIELD_BY_ROUTE, decodeFrame, encodeFrame, pb, type Frame } from '../../src/protocol/index.js';
import { payloadArb, protobufBytesArb } from '../fuzz/arbitraries.js';
import { PAYLOAD_TYPE_BY_ROUTE } from '../fuzz/schema-fields.js';

const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);
const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed });

type PbType = {
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
};
const typeOf = (name: string): PbType => (pb as unknown as Record<string, PbType>)[name]!;
const PLAIN = { defaults: true, longs: Number, bytes: Array, arrays: true };

/** A payload as plain data, whichever codec produced it. */
function plain(typeName: string, value: object): Record<string, unknown> {
  return typeOf(typeName).toObject(typeOf(typeName).fromObject(value as Record<string, unknown>), PLAIN);
}

describe('lite codec (SDK) against the protobufjs codec (server)', () => {
  for (const [route, typeName] of PAYLOAD_TYPE_BY_ROUTE) {
    const field = PAYLOAD_FIELD_BY_ROUTE[route] as Frame['field'];

    it(`lite codec - ${typeName} frames encoded by the server decode to the same values in the SDK, and back`, () => {
      fc.assert(
        fc.property(payloadArb(typeName), (value) => {
          const fromServer = lite.decodeFrame(encodeFrame(field, value));
          expect(fromServer.route).toBe(route);
          expect(fromServer.field).toBe(field);
          expect(plain(typeName, fromServer.value)).toEqual(plain(typeName, value));

          const fromSdk = decodeFrame(lite.encodeFrame(field, value));
          expect(fromSdk.route).toBe(route);
          expect(plain(typeName, fromSdk.value)).toEqual(plain(typeName, value));
        }),
        runs(150),
      );
    });
  }

  it('lite codec - decoded values have proto3 defaults filled in, like the generated classes (absent message fields null, repeated [])', () => {
    const frame = lite.decodeFrame(encodeFrame('message', { id: 'm1' }));
    expect(frame.field).toBe('message');
    const message = frame.value as unknown as Record<string, unknown>;
    expect(message['id']).toBe('m1');
    expect(message['payload']).toEqual(new Uint8Array(0));
    expect(message['userOffset']).toBe(0);
    expect(message['from']).toBeNull();
    const body = lite.decodeFrame(encodeFrame('body', {})).value as unknown as Record<string, unknown>;
    expect(body['awarenessList']).toEqual([]);
  });

  it('lite codec - 64-bit values beyond 2^49 and negative ones round-trip exactly where a double can hold them', () => {
    for (const timestamp of [2 ** 49 + 1, 2 ** 53 - 1, -1, -(2 ** 40)]) {
      const bytes = lite.encodeFrame('pingPong', { id: 'p', type: 1, timestamp });
      expect(decodeFrame(bytes).value).toMatchObject({ timestamp });
      expect(lite.decodeFrame(bytes).value).toMatchObject({ timestamp });
    }
  });

  it('lite codec - arbitrary or protobuf-shaped bytes give a frame or a FrameError 400, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), protobufBytesArb), (bytes) => {
        try {
          const frame = lite.decodeFrame(bytes);
          expect(PAYLOAD_FIELD_BY_ROUTE[frame.route]).toBe(frame.field);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          expect((err as FrameError).code).toBe(Code.BadRequest);
        }
      }),
      runs(2000),
    );
  });
});
