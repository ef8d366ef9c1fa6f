/**
 * Properties of the codec (src/protocol/codec.ts; SPEC §3, §4, §10) with fast-check. A failure
 * prints fast-check's seed and the shrunk counterexample; FC_SEED=<n> replays a run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Code, FrameError, PAYLOAD_FIELD_BY_ROUTE, ROUTE_BY_FIELD, decodeFrame, encodeFrame, pb, type Frame } from '../../src/protocol/index.js';
import { payloadArb, protobufBytesArb } from '../fuzz/arbitraries.js';
import { PAYLOAD_TYPE_BY_ROUTE, fieldsOf } from '../fuzz/schema-fields.js';
import { Wire, bytesField, concat, tag, varint } from '../fuzz/wire.js';

const SPEC_CODES = new Set<number>(Object.values(Code));
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);
const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed });

type PbType = {
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
};
const typeOf = (name: string): PbType => (pb as unknown as Record<string, PbType>)[name]!;
const PLAIN = { defaults: true, longs: Number, bytes: Array, arrays: true };
const ROUTES = [...PAYLOAD_TYPE_BY_ROUTE.keys()];

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** decodeFrame's outcome: the frame, or what it threw. */
function outcomeOf(bytes: Uint8Array): { frame: Frame } | { thrown: unknown } {
  try {
    return { frame: decodeFrame(bytes) };
  } catch (thrown) {
    return { thrown };
  }
}

/** Either a frame whose route is its payload's field number (SPEC §3), or a FrameError with a SPEC §10 code. */
function expectFrameOrFrameError(bytes: Uint8Array): void {
  const outcome = outcomeOf(bytes);
  if ('frame' in outcome) {
    expect(PAYLOAD_FIELD_BY_ROUTE[outcome.frame.route]).toBe(outcome.frame.field);
    expect(ROUTE_BY_FIELD[outcome.frame.field]).toBe(outcome.frame.route);
    return;
  }
  expect(outcome.thrown).toBeInstanceOf(FrameError);
  const error = outcome.thrown as FrameError;
  expect(SPEC_CODES.has(error.code)).toBe(true);
  expect(error.code).toBe(Code.BadRequest);
  expect(typeof error.id).toBe('string');
}

/** A payload of `route`'s type with arbitrary valid values, and its encoded frame. */
const validFrameArb = fc.constantFrom(...ROUTES).chain((route) =>
  payloadArb(PAYLOAD_TYPE_BY_ROUTE.get(route)!).map((value) => {
    const field = PAYLOAD_FIELD_BY_ROUTE[route] as Frame['field'];
    return { route, field, value, bytes: encodeFrame(field, value) };
  }),
);

/** A well-formed field whose number the message does not use: a newer peer's addition (proto3 skips it). */
function unknownFieldArb(used: ReadonlySet<number>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.integer({ min: 1, max: 2 ** 29 - 1 }),
      fc.constantFrom(Wire.Varint, Wire.Fixed64, Wire.Bytes, Wire.Fixed32, Wire.StartGroup),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.uint8Array({ maxLength: 16 }),
    )
    .filter(([field]) => !used.has(field) && (field < 19_000 || field > 19_999))
    .map(([field, wireType, number, content]) => {
      if (wireType === Wire.Varint) return concat(tag(field, wireType), varint(number));
      if (wireType === Wire.Fixed64) return concat(tag(field, wireType), new Uint8Array(8));
      if (wireType === Wire.Fixed32) return concat(tag(field, wireType), new Uint8Array(4));
      if (wireType === Wire.StartGroup) return concat(tag(field, Wire.StartGroup), tag(field, Wire.EndGroup));
      return bytesField(field, content);
    });
}

describe('codec properties', () => {
  it('codec property - decodeFrame on arbitrary bytes returns a frame or throws FrameError 400, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), expectFrameOrFrameError), runs(1500));
  });

  it('codec property - decodeFrame on protobuf-shaped bytes (any field number, wire type, varint up to 2^64-1, lying lengths) returns a frame or throws FrameError 400', () => {
    fc.assert(fc.property(protobufBytesArb, expectFrameOrFrameError), runs(1500));
  });

  it('codec property - decodeFrame on a truncated or bit-flipped valid frame returns a frame or throws FrameError 400', () => {
    fc.assert(
      fc.property(validFrameArb, fc.nat(), fc.nat(), fc.boolean(), ({ bytes }, cut, bit, flip) => {
        if (flip && bytes.length > 0) {
          const damaged = bytes.slice();
          damaged[bit % damaged.length]! ^= 1 << (bit % 8);
          expectFrameOrFrameError(damaged);
        } else {
          expectFrameOrFrameError(bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length));
        }
      }),
      runs(1000),
    );
  });

  for (const [route, typeName] of PAYLOAD_TYPE_BY_ROUTE) {
    it(`codec property - ${typeName} frames (route ${route}) round-trip: every field intact, same bytes when re-encoded`, () => {
      const field = PAYLOAD_FIELD_BY_ROUTE[route] as Frame['field'];
      const type = typeOf(typeName);
      fc.assert(
        fc.property(payloadArb(typeName), (value) => {
          const bytes = encodeFrame(field, value);
          const frame = decodeFrame(bytes);
          expect(frame.route).toBe(route);
          expect(frame.field).toBe(field);
          expect(type.toObject(frame.value, PLAIN)).toEqual(type.toObject(type.fromObject(value), PLAIN));
          expect(encodeFrame(field, frame.value)).toEqual(bytes);
        }),
        runs(150),
      );
    });
  }

  it('codec property - a route that is not the payload’s field number is a FrameError 400 carrying that route and the payload’s id', () => {
    const routeArb = fc.oneof(fc.constantFrom(0, 1, 7, 8, 17, 99, -1, ...ROUTES), fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), fc.maxSafeInteger());
    fc.assert(
      fc.property(validFrameArb, routeArb, ({ route: payloadRoute, field, value }, route) => {
        fc.pre(route !== payloadRoute);
        const bytes = pb.MessageScheme.encode({ route, [field]: value } as never).finish();
        const outcome = outcomeOf(bytes);
        expect('thrown' in outcome && outcome.thrown).toBeInstanceOf(FrameError);
        const error = (outcome as { thrown: FrameError }).thrown;
        expect(error.code).toBe(Code.BadRequest);
        expect(error.route).toBe(route);
        const id = (value as { id?: unknown }).id;
        expect(error.id).toBe(fieldsOf(PAYLOAD_TYPE_BY_ROUTE.get(payloadRoute)!).some((f) => f.name === 'id') && typeof id === 'string' ? id : '');
      }),
      runs(1000),
    );
  });

  it('codec property - unknown fields (top level or inside the payload) are skipped: the frame decodes as without them', () => {
    const topLevelUsed = new Set<number>([1, ...ROUTES]);
    fc.assert(
      fc.property(
        validFrameArb,
        fc.array(unknownFieldArb(topLevelUsed), { maxLength: 3 }),
        fc.array(fc.integer({ min: 100, max: 2 ** 29 - 1 }), { maxLength: 3 }),
        (frame, topLevel, innerNumbers) => {
          const type = typeOf(PAYLOAD_TYPE_BY_ROUTE.get(frame.route)!);
          const payloadBytes = (pb as unknown as Record<string, { encode(value: unknown): { finish(): Uint8Array } }>)
            [PAYLOAD_TYPE_BY_ROUTE.get(frame.route)!]!.encode(frame.value)
            .finish();
          const inner = innerNumbers.filter((n) => n < 19_000 || n > 19_999).map((n) => concat(tag(n, Wire.Varint), varint(n)));
          const bytes = concat(tag(1, Wire.Varint), varint(frame.route), ...topLevel, bytesField(frame.route, concat(payloadBytes, ...inner)));
          const decoded = decodeFrame(bytes);
          expect(decoded.route).toBe(frame.route);
          expect(type.toObject(decoded.value, PLAIN)).toEqual(type.toObject(type.fromObject(frame.value), PLAIN));
        },
      ),
      runs(1000),
    );
  });

  it('codec property - a string field that is not UTF-8 (stray byte, overlong form, surrogate, cut sequence) is a FrameError 400, never a TypeError', () => {
    const notUtf8 = fc.oneof(
      fc.constantFrom([0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
      fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => [...bytes]),
    );
    const withStrings = ROUTES.filter((route) => fieldsOf(PAYLOAD_TYPE_BY_ROUTE.get(route)!).some((f) => f.kind === 'string'));
    fc.assert(
      fc.property(fc.constantFrom(...withStrings), notUtf8, fc.nat(), (route, bad, pick) => {
        const strings = fieldsOf(PAYLOAD_TYPE_BY_ROUTE.get(route)!).filter((f) => f.kind === 'string');
        const field = strings[pick % strings.length]!;
        const bytes = concat(tag(1, Wire.Varint), varint(route), bytesField(route, bytesField(field.id, bad)));
        if (isUtf8(Uint8Array.from(bad))) {
          expectFrameOrFrameError(bytes); // random bytes that happen to be UTF-8
          return;
        }
        const outcome = outcomeOf(bytes);
        expect('thrown' in outcome ? outcome.thrown : outcome).toBeInstanceOf(FrameError);
        expect((outcome as { thrown: FrameError }).thrown.code).toBe(Code.BadRequest);
      }),
      runs(1000),
    );
  });

  it('codec property - 64-bit fields beyond 2^53 (up to 2^64-1, or negative) decode to numbers without throwing', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ROUTES), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (route, big) => {
        const typeName = PAYLOAD_TYPE_BY_ROUTE.get(route)!;
        const wide = fieldsOf(typeName).filter((f) => /64$/.test(f.type) && f.kind === 'varint');
        const payload = concat(...wide.map((f) => concat(tag(f.id, Wire.Varint), varint(big))));
        const frame = decodeFrame(concat(tag(1, Wire.Varint), varint(route), bytesField(route, payload)));
        for (const f of wide) expect(typeof (frame.value as unknown as Record<string, unknown>)[f.name]).toBe('number');
      }),
      runs(500),
    );
  });
});
