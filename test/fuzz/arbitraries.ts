/**
 * fast-check arbitraries for the wire schema, built by reflection from bimip.proto (schema-fields.ts):
 * `payloadArb(type, 'valid')` gives values that round-trip exactly (numbers in range for their
 * type, 64-bit ones within JS's safe integers, well-formed strings); 'wild' adds what a hostile
 * client can put on the wire (lone surrogates, strings around every limit, NaN and infinite doubles).
 * `protobufBytesArb` gives byte strings shaped like protobuf (tags, varints up to 2^64-1, lengths),
 * which reach deeper into a decoder than uniform random bytes.
 */
import fc from 'fast-check';
import { fieldsOf, type SchemaField } from './schema-fields.js';
import { Wire, bytesField, concat, tag, varint } from './wire.js';

export type Mode = 'valid' | 'wild';

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** Strings whose UTF-8 length sits on and around the limits of SPEC §2 (128, 256, 1024, 65,536). */
export function limitStringArb(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(0, 1, 127, 128, 129, 255, 256, 257, 1024, 1025), fc.constantFrom('a', 'é', '€', '🙂'))
    .map(([bytes, unit]) => unit.repeat(Math.floor(bytes / Buffer.byteLength(unit))) + 'a'.repeat(bytes % Buffer.byteLength(unit)));
}

function stringArb(mode: Mode): fc.Arbitrary<string> {
  const short = fc.string({ unit: 'grapheme', maxLength: 16 });
  if (mode === 'valid') return short;
  return fc.oneof(short, fc.string({ unit: 'binary', maxLength: 24 }), limitStringArb(), fc.constantFrom('\ud800', 'a\udfffb', '\u0000', '\u202e'));
}

function scalarArb(field: SchemaField, mode: Mode): fc.Arbitrary<unknown> {
  switch (field.type) {
    case 'string':
      return stringArb(mode);
    case 'bytes':
      return fc.uint8Array({ maxLength: mode === 'valid' ? 32 : 300 });
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return fc.integer(INT32);
    case 'uint32':
    case 'fixed32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return fc.maxSafeInteger();
    case 'uint64':
    case 'fixed64':
      return fc.maxSafeNat();
    case 'bool':
      return fc.boolean();
    case 'double':
      return mode === 'valid' ? fc.double({ noNaN: true }) : fc.double();
    case 'float':
      return fc.float({ noNaN: mode === 'valid' });
    default:
      throw new Error(`no arbitrary for proto type ${field.type}`);
  }
}

const cache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

/** Values of message type `typeName` (every field optional, embedded messages up to depth 2). */
export function payloadArb(typeName: string, mode: Mode = 'valid', depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const key = `${typeName}/${mode}/${depth}`;
  let arb = cache.get(key);
  if (!arb) {
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of fieldsOf(typeName)) {
      let value: fc.Arbitrary<unknown>;
      if (field.kind === 'message') {
        if (depth >= 2) continue;
        value = payloadArb(field.messageType!, mode, depth + 1);
      } else {
        value = scalarArb(field, mode);
      }
      model[field.name] = field.repeated ? fc.array(value, { maxLength: 3 }) : value;
    }
    arb = fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
    cache.set(key, arb);
  }
  return arb;
}

/** One protobuf-looking field: any field number (0 and > 2^29 included), any wire type 0–7. */
const fieldBytesArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 29 + 5 })),
    fc.integer({ min: 0, max: 7 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.uint8Array({ maxLength: 24 }),
    fc.boolean(),
  )
  .map(([field, wireType, number, content, honestLength]) => {
    switch (wireType) {
      case Wire.Varint:
        return concat(tag(field, wireType), varint(number));
      case Wire.Fixed64:
        return concat(tag(field, wireType), content.subarray(0, 8));
      case Wire.Bytes:
        return honestLength ? bytesField(field, content) : concat(tag(field, wireType), varint(number), content);
      case Wire.Fixed32:
        return concat(tag(field, wireType), content.subarray(0, 4));
      default:
        return concat(tag(field, wireType), content.subarray(0, 3));
    }
  });

/** Byte strings made of protobuf-looking fields, sometimes with a valid route and a payload field of such fields inside. */
export const protobufBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(fieldBytesArb, { maxLength: 6 }).map((fields) => concat(...fields)),
  fc
    .tuple(fc.integer({ min: 0, max: 17 }), fc.integer({ min: 0, max: 17 }), fc.array(fieldBytesArb, { maxLength: 6 }))
    .map(([route, payloadField, inner]) => concat(tag(1, Wire.Varint), varint(route), bytesField(payloadField, concat(...inner)))),
);
