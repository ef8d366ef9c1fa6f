/**
 * Just enough of the protobuf wire format to take frames apart and put them back together wrongly:
 * varints of any width (as bigint, so 2^63 and 2^64-1 are exact), tags, and a lenient field
 * parser. The real codec (src/protocol/codec.ts) is what is under test; this file never uses it.
 */
export const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, StartGroup: 3, EndGroup: 4, Fixed32: 5 } as const;

const MASK_64 = (1n << 64n) - 1n;

/** A varint of the 64-bit two's complement of `value` (so -1 is ten bytes, as protobuf writes it). */
export function varint(value: bigint | number): number[] {
  let rest = BigInt(value) & MASK_64;
  const out: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return out;
}

export function tag(field: number, wireType: number): number[] {
  return varint((BigInt(field) << 3n) | BigInt(wireType & 7));
}

export function varintField(field: number, value: bigint | number): number[] {
  return [...tag(field, Wire.Varint), ...varint(value)];
}

export function bytesField(field: number, content: Uint8Array | readonly number[]): Uint8Array {
  return concat(tag(field, Wire.Bytes), varint(content.length), content);
}

export function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, new TextEncoder().encode(text));
}

export function doubleField(field: number, value: number): number[] {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return [...tag(field, Wire.Fixed64), ...bytes];
}

/** One field as found on the wire: `start`..`end` covers its tag and value; `content` is the value (for Bytes, without its length). */
export interface WireField {
  field: number;
  wireType: number;
  start: number;
  /** Where the value begins (after the tag; for Bytes, where the length varint begins). */
  valueStart: number;
  end: number;
  content: Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): [value: bigint, next: number] | undefined {
  // Fast path: up to four bytes fit a small integer (tags and lengths almost always do).
  let small = 0;
  for (let i = at, shift = 0; i < bytes.length && i < at + 4; i++, shift += 7) {
    small |= (bytes[i]! & 0x7f) << shift;
    if ((bytes[i]! & 0x80) === 0) return [BigInt(small >>> 0), i + 1];
  }
  let value = 0n;
  for (let shift = 0n, i = at; i < bytes.length && shift < 70n; i++, shift += 7n) {
    value |= BigInt(bytes[i]! & 0x7f) << shift;
    if ((bytes[i]! & 0x80) === 0) return [value, i + 1];
  }
  return undefined;
}

/** Parses the top level of `bytes`; undefined if it is not a clean sequence of fields (groups are not followed). */
export function parseFields(bytes: Uint8Array): WireField[] | undefined {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const key = readVarint(bytes, at);
    if (!key) return undefined;
    const field = Number(key[0] >> 3n);
    const wireType = Number(key[0] & 7n);
    const valueStart = key[1];
    let end: number;
    let content: Uint8Array;
    if (wireType === Wire.Varint) {
      const value = readVarint(bytes, valueStart);
      if (!value) return undefined;
      end = value[1];
      content = bytes.subarray(valueStart, end);
    } else if (wireType === Wire.Fixed64 || wireType === Wire.Fixed32) {
      end = valueStart + (wireType === Wire.Fixed64 ? 8 : 4);
      if (end > bytes.length) return undefined;
      content = bytes.subarray(valueStart, end);
    } else if (wireType === Wire.Bytes) {
      const length = readVarint(bytes, valueStart);
      if (!length || length[0] > BigInt(bytes.length - length[1])) return undefined;
      end = length[1] + Number(length[0]);
      content = bytes.subarray(length[1], end);
    } else {
      return undefined;
    }
    fields.push({ field, wireType, start, valueStart, end, content });
    at = end;
  }
  return fields;
}

export function concat(...parts: ReadonlyArray<Uint8Array | readonly number[]>): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
