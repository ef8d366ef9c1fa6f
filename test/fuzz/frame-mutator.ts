/**
 * Turns valid frames into hostile ones (issue #7): byte-level damage (bit flips, inserts, deletes,
 * truncation, splicing two frames, random bytes) and structure-aware damage that keeps the outer
 * envelope parseable so the bad value reaches the decoder's and validators' inner paths (varint
 * overflow, wrong wire types, huge length prefixes, random field numbers, route/payload mismatch,
 * extreme numbers — negative, 2^63, 2^64-1, NaN doubles —, overlong and invalid UTF-8 strings,
 * repeated-field floods). 1–3 mutations are stacked; some frames go out unchanged.
 */
import type { Prng } from './prng.js';
import { PAYLOAD_TYPE_BY_ROUTE, fieldsOf, type SchemaField } from './schema-fields.js';
import type { Template } from './frame-templates.js';
import { Wire, bytesField, concat, doubleField, parseFields, tag, varint, varintField, type WireField } from './wire.js';

// Byte-level damage mostly fails to decode (a bad frame: 20 close the connection, SPEC §2), while
// structure-aware damage reaches the handlers and validators; the weights favour the latter a little.
export const MUTATIONS = {
  'bit-flip': 8,
  insert: 4,
  delete: 4,
  truncate: 5,
  splice: 5,
  'random-bytes': 2,
  empty: 0.3,
  'varint-overflow': 4,
  'wire-type': 5,
  'huge-length': 4,
  'random-field': 10,
  'route-mismatch': 6,
  'extreme-number': 16,
  'overlong-string': 12,
  'duplicate-payload': 4,
  'nested-garbage': 4,
  'repeated-flood': 1,
} as const;
export type MutationName = keyof typeof MUTATIONS | 'none';
const MUTATION_WEIGHTS = Object.entries(MUTATIONS) as Array<[keyof typeof MUTATIONS, number]>;

export interface MutatedFrame {
  bytes: Uint8Array;
  /** The route of the template it was made from. */
  route: number;
  mutations: MutationName[];
}

export interface MutatorOptions {
  /** Share of frames sent unchanged (default 0.15). */
  unchanged?: number;
  /** Allow strings over 1 MiB (frames over the default frame limit: 413 and close 1009). Default true. */
  oversize?: boolean;
}

const EXTREME_VARINTS: readonly bigint[] = [
  0n,
  1n,
  -1n,
  2n ** 31n - 1n,
  2n ** 31n,
  -(2n ** 31n),
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  -(2n ** 63n),
  2n ** 64n - 1n,
  1000n,
  65_537n,
];
const EXTREME_DOUBLES: readonly number[] = [NaN, Infinity, -Infinity, -0, 90.000001, -180.5, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER];
/** NaNs with payload bits, signalling NaN: written raw, as a C client might. */
const RAW_DOUBLES: readonly number[][] = [
  [0x01, 0, 0, 0, 0, 0, 0xf8, 0x7f],
  [0x01, 0, 0, 0, 0, 0, 0xf0, 0x7f],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];
const HUGE_LENGTHS: readonly bigint[] = [2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const ODD_FIELD_NUMBERS: readonly number[] = [0, 7, 8, 17, 100, 18_999, 19_000, 19_999, 2 ** 29 - 1, 2 ** 29, 2 ** 31, 2 ** 32 + 3];

const encoder = new TextEncoder();

function strangeText(rng: Prng, oversize: boolean): Uint8Array {
  const lengths = [0, 128, 129, 256, 257, 1024, 1025, 65_536, 65_537];
  if (oversize && rng.chance(0.01)) return new Uint8Array(1024 * 1024 + 1).fill(0x61);
  switch (rng.int(8)) {
    case 0:
      return encoder.encode(`${'é'.repeat(64)}x`); // 129 bytes in 65 characters
    case 1:
      return new Uint8Array([0xff, 0xfe, 0xfd, 0x80]); // not UTF-8
    case 2:
      return new Uint8Array([0xed, 0xa0, 0x80, 0xc0, 0x80]); // a UTF-16 surrogate and an overlong NUL
    case 3:
      return new Uint8Array(rng.pick(lengths)); // NUL bytes
    case 4:
      return encoder.encode('\u202e🙂'.repeat(rng.range(1, 200)));
    default:
      return new Uint8Array(rng.pick(lengths)).fill(0x61 + rng.int(26));
  }
}

interface Envelope {
  fields: WireField[];
  payload: WireField | undefined;
}

function envelopeOf(bytes: Uint8Array): Envelope | undefined {
  const fields = parseFields(bytes);
  if (!fields) return undefined;
  const payload = [...fields].reverse().find((field) => field.wireType === Wire.Bytes && PAYLOAD_TYPE_BY_ROUTE.has(field.field));
  return { fields, payload };
}

/** The frame with the payload's content replaced by `content` (outer length recomputed). */
function withPayload(bytes: Uint8Array, envelope: Envelope, content: Uint8Array, fieldNumber = envelope.payload!.field): Uint8Array {
  const payload = envelope.payload!;
  return concat(bytes.subarray(0, payload.start), bytesField(fieldNumber, content), bytes.subarray(payload.end));
}

function pickField(rng: Prng, route: number, kinds: ReadonlyArray<SchemaField['kind']>): SchemaField | undefined {
  const fields = fieldsOf(PAYLOAD_TYPE_BY_ROUTE.get(route) ?? 'Message').filter((field) => kinds.includes(field.kind));
  return fields.length > 0 ? rng.pick(fields) : undefined;
}

function randomFieldBytes(rng: Prng, fieldNumber: number): number[] {
  const wireType = rng.int(8);
  const head = tag(fieldNumber, wireType);
  switch (wireType) {
    case Wire.Varint:
      return [...head, ...varint(rng.pick(EXTREME_VARINTS))];
    case Wire.Fixed64:
      return [...head, ...rng.bytes(8)];
    case Wire.Bytes:
      return [...head, ...varint(rng.int(40)), ...rng.bytes(rng.int(40))];
    case Wire.StartGroup:
      return rng.chance(0.5) ? [...head, ...tag(fieldNumber, Wire.EndGroup)] : [...head, ...rng.bytes(rng.int(6))];
    case Wire.Fixed32:
      return [...head, ...rng.bytes(4)];
    default:
      return [...head, ...rng.bytes(rng.int(8))]; // 4 (stray end group), 6 and 7 (no such wire type)
  }
}

type Mutator = (rng: Prng, bytes: Uint8Array, route: number, another: () => Template, options: Required<MutatorOptions>) => Uint8Array;

const MUTATORS: Record<keyof typeof MUTATIONS, Mutator> = {
  'bit-flip': (rng, bytes) => {
    if (bytes.length === 0) return rng.bytes(1);
    const out = bytes.slice();
    for (let i = rng.range(1, 8); i > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
    return out;
  },
  insert: (rng, bytes) => {
    const at = rng.int(bytes.length + 1);
    return concat(bytes.subarray(0, at), rng.bytes(rng.range(1, 16)), bytes.subarray(at));
  },
  delete: (rng, bytes) => {
    const at = rng.int(bytes.length + 1);
    return concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + rng.range(1, 16))));
  },
  truncate: (rng, bytes) => bytes.slice(0, rng.int(bytes.length)),
  splice: (rng, bytes, _route, another) => {
    const other = another().bytes;
    return concat(bytes.subarray(0, rng.int(bytes.length + 1)), other.subarray(rng.int(other.length + 1)));
  },
  'varint-overflow': (rng, bytes) => {
    // 10 bytes of 0xff with continuation and a final byte: 11 bytes, over the 64-bit maximum.
    const overlong = [...new Array<number>(10).fill(0xff), 0x01];
    const choice = rng.int(3);
    if (choice === 0) return concat(tag(1, Wire.Varint), overlong, bytes); // route
    if (choice === 1) return concat(bytes, tag(rng.range(1, 13), Wire.Varint), overlong);
    return concat(overlong, bytes); // as a tag
  },
  'wire-type': (rng, bytes) => {
    const envelope = envelopeOf(bytes);
    if (!envelope || envelope.fields.length === 0) return MUTATORS['bit-flip'](rng, bytes, 0, () => ({ route: 0, bytes }), DEFAULTS);
    const inner = envelope.payload && rng.chance(0.6) ? parseFields(envelope.payload.content) : undefined;
    const target = inner && inner.length > 0 ? inner : envelope.fields;
    const field = rng.pick(target);
    const source = target === inner ? envelope.payload!.content : bytes;
    let wireType = rng.int(8);
    if (wireType === field.wireType) wireType = (wireType + 1) % 8;
    const changed = concat(source.subarray(0, field.start), tag(field.field, wireType), source.subarray(field.valueStart));
    return target === inner ? withPayload(bytes, envelope, changed) : changed;
  },
  'huge-length': (rng, bytes) => {
    const envelope = envelopeOf(bytes);
    if (!envelope?.payload) return concat(bytes, tag(rng.range(2, 16), Wire.Bytes), varint(rng.pick(HUGE_LENGTHS)));
    const inner = (parseFields(envelope.payload.content) ?? []).filter((field) => field.wireType === Wire.Bytes);
    const length = rng.chance(0.2) ? BigInt(rng.range(1, 1000)) : rng.pick(HUGE_LENGTHS);
    if (inner.length > 0 && rng.chance(0.6)) {
      const field = rng.pick(inner);
      const content = envelope.payload.content;
      const lengthEnd = field.end - field.content.length;
      const changed = concat(content.subarray(0, field.valueStart), varint(BigInt(field.content.length) + length), content.subarray(lengthEnd));
      return withPayload(bytes, envelope, changed);
    }
    const payload = envelope.payload;
    return concat(bytes.subarray(0, payload.valueStart), varint(BigInt(payload.content.length) + length), payload.content, bytes.subarray(payload.end));
  },
  'random-field': (rng, bytes) => {
    const fieldNumber = rng.chance(0.5) ? rng.pick(ODD_FIELD_NUMBERS) : rng.range(1, 2 ** 29 - 1);
    const extra = randomFieldBytes(rng, fieldNumber);
    const envelope = envelopeOf(bytes);
    if (envelope?.payload && rng.chance(0.6)) return withPayload(bytes, envelope, concat(envelope.payload.content, extra));
    return concat(bytes, extra);
  },
  'route-mismatch': (rng, bytes) => {
    const envelope = envelopeOf(bytes);
    const routes = [...PAYLOAD_TYPE_BY_ROUTE.keys()];
    if (envelope?.payload && rng.chance(0.4)) {
      // The payload's bytes under another oneof field: one type decoded as another.
      return withPayload(bytes, envelope, envelope.payload.content, rng.pick(routes));
    }
    const route = rng.chance(0.6) ? BigInt(rng.pick(routes)) : rng.pick([0n, 1n, 7n, 8n, 17n, 99n, -1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 32n + 6n]);
    return concat(bytes, varintField(1, route)); // the last route wins
  },
  'extreme-number': (rng, bytes, route) => {
    const envelope = envelopeOf(bytes);
    const field = pickField(rng, route, ['varint', 'double', 'float', 'fixed32', 'fixed64']);
    if (!envelope?.payload || !field || rng.chance(0.1)) return concat(bytes, varintField(1, rng.pick(EXTREME_VARINTS)));
    let extra: number[];
    if (field.kind === 'double') {
      extra = rng.chance(0.7) ? doubleField(field.id, rng.pick(EXTREME_DOUBLES)) : [...tag(field.id, Wire.Fixed64), ...rng.pick(RAW_DOUBLES)];
    } else if (field.kind === 'varint') {
      extra = varintField(field.id, rng.pick(EXTREME_VARINTS));
    } else {
      extra = [
        ...tag(field.id, field.kind === 'fixed32' || field.kind === 'float' ? Wire.Fixed32 : Wire.Fixed64),
        ...rng.bytes(field.kind === 'fixed32' || field.kind === 'float' ? 4 : 8),
      ];
    }
    return withPayload(bytes, envelope, concat(envelope.payload.content, extra));
  },
  'overlong-string': (rng, bytes, route, _another, options) => {
    const envelope = envelopeOf(bytes);
    const field = pickField(rng, route, ['string', 'bytes', 'message']);
    if (!envelope?.payload || !field) return concat(bytes, bytesField(rng.range(2, 16), strangeText(rng, options.oversize)));
    let extra: Uint8Array;
    if (field.kind === 'message') {
      // An embedded message (Identity, Awareness, ContactEntry): a strange value in one of its string fields.
      const nested = fieldsOf(field.messageType!).filter((inner) => inner.kind === 'string');
      const inner = nested.length > 0 ? rng.pick(nested).id : 1;
      extra = bytesField(field.id, bytesField(inner, strangeText(rng, options.oversize)));
    } else {
      extra = bytesField(field.id, strangeText(rng, options.oversize));
    }
    return withPayload(bytes, envelope, concat(envelope.payload.content, extra));
  },
  'random-bytes': (rng) => rng.bytes(rng.int(257)),
  'duplicate-payload': (_rng, bytes, _route, another) => {
    const other = envelopeOf(another().bytes);
    if (!other?.payload) return bytes;
    // A second oneof member after the first: the decoder keeps the last, which may not match the route.
    return concat(bytes, bytesField(other.payload.field, other.payload.content));
  },
  'nested-garbage': (rng, bytes) => {
    const envelope = envelopeOf(bytes);
    if (!envelope?.payload) return concat(bytes, rng.bytes(rng.range(1, 32)));
    const inner = (parseFields(envelope.payload.content) ?? []).filter((field) => field.wireType === Wire.Bytes);
    if (inner.length > 0 && rng.chance(0.5)) {
      const field = rng.pick(inner);
      const content = envelope.payload.content;
      return withPayload(
        bytes,
        envelope,
        concat(content.subarray(0, field.start), bytesField(field.field, rng.bytes(rng.range(1, 24))), content.subarray(field.end)),
      );
    }
    return withPayload(bytes, envelope, rng.bytes(rng.range(0, 64)));
  },
  'repeated-flood': (rng, bytes, route) => {
    const envelope = envelopeOf(bytes);
    if (!envelope?.payload) return bytes;
    const field = pickField(rng, route, ['varint', 'string', 'message']) ?? { id: 1, kind: 'varint' as const };
    const one =
      field.kind === 'varint' ? Uint8Array.from(varintField(field.id, 1)) : bytesField(field.id, field.kind === 'message' ? bytesField(1, [0x61]) : [0x61]);
    const copies = rng.pick([1_000, 10_000, 50_000]);
    const flood = new Uint8Array(one.length * copies);
    for (let i = 0; i < copies; i++) flood.set(one, i * one.length);
    return withPayload(bytes, envelope, concat(envelope.payload.content, flood));
  },
  empty: () => new Uint8Array(0),
};

const DEFAULTS: Required<MutatorOptions> = { unchanged: 0.15, oversize: true };

/** A mutated copy of `template` (or the template itself, for the `unchanged` share). */
export function mutateFrame(rng: Prng, template: Template, another: () => Template, options: MutatorOptions = {}): MutatedFrame {
  const settings = { ...DEFAULTS, ...options };
  if (rng.chance(settings.unchanged)) return { bytes: template.bytes, route: template.route, mutations: ['none'] };
  let bytes = template.bytes;
  const mutations: MutationName[] = [];
  for (let count = rng.chance(0.7) ? 1 : rng.range(2, 3); count > 0; count--) {
    const name = rng.weighted(MUTATION_WEIGHTS);
    bytes = MUTATORS[name](rng, bytes, template.route, another, settings);
    mutations.push(name);
  }
  return { bytes, route: template.route, mutations };
}
