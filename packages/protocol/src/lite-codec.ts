/**
 * A small table-driven Protocol Buffers codec for the SDK (issue #9: the browser bundle's budget).
 * It reads the field table generated from bimip.proto (generated/descriptors.ts) instead of
 * protobufjs' per-type code, so the client carries about 2 KB of codec instead of ~13 KB, and no
 * `long`. The server keeps protobufjs' generated code (codec.ts), which is faster. Both follow
 * proto3: decoded objects have every scalar filled with its default ('' / 0 / empty bytes),
 * absent message fields null and repeated fields [], like protobufjs' classes; int64/uint64 are
 * JS numbers. test/unit/lite-codec.property.test.ts checks the two agree on every frame kind.
 */
import { Code, ROUTE_BY_FIELD } from './codes.js';
import { checkedFrame } from './envelope.js';
import { FrameError } from './frame-error.js';
import { DESCRIPTORS, type FieldDescriptor } from './generated/descriptors.js';
import type { Frame } from './schema.js';

type FrameOf<F extends Frame['field']> = Extract<Frame, { field: F }>;
type Fields = Record<string, unknown>;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Encodes one payload into a MessageScheme frame (same bytes semantics as codec.ts' encodeFrame). */
export function encodeFrame<F extends Frame['field']>(field: F, value: FrameOf<F>['value'] | object): Uint8Array {
  const writer = new Writer();
  writeMessage(writer, 'MessageScheme', { route: ROUTE_BY_FIELD[field], [field]: value });
  return writer.finish();
}

/** Decodes bytes into a frame; throws FrameError(400) for anything that is not one valid envelope. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let scheme: Fields;
  let field: string | undefined;
  try {
    const reader = new Reader(bytes);
    scheme = readMessage(reader, 'MessageScheme', bytes.length, (name) => {
      if (name !== 'route') field = name;
    });
  } catch (err) {
    throw new FrameError(Code.BadRequest, `frame does not decode as MessageScheme: ${(err as Error).message}`);
  }
  return checkedFrame(scheme['route'] as number, field, field === undefined ? undefined : scheme[field]);
}

function writeMessage(writer: Writer, type: string, value: Fields): void {
  for (const field of DESCRIPTORS[type]!) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    if (field.repeated) {
      for (const item of v as Fields[]) writeNested(writer, field, item);
    } else if (field.kind === 'message') {
      writeNested(writer, field, v as Fields);
    } else {
      writeScalar(writer, field, v);
    }
  }
}

function writeNested(writer: Writer, field: FieldDescriptor, value: Fields): void {
  const nested = new Writer();
  writeMessage(nested, field.type!, value);
  const bytes = nested.finish();
  writer.tag(field.no, 2);
  writer.varint(bytes.length);
  writer.bytes(bytes);
}

/** proto3: a scalar at its default is not written. */
function writeScalar(writer: Writer, field: FieldDescriptor, value: unknown): void {
  switch (field.kind) {
    case 'string': {
      if (value === '') return;
      const bytes = utf8Encoder.encode(String(value));
      writer.tag(field.no, 2);
      writer.varint(bytes.length);
      writer.bytes(bytes);
      return;
    }
    case 'bytes': {
      const bytes = value as Uint8Array;
      if (bytes.length === 0) return;
      writer.tag(field.no, 2);
      writer.varint(bytes.length);
      writer.bytes(bytes);
      return;
    }
    case 'double': {
      const number = Number(value);
      if (number === 0 && !Object.is(number, -0)) return;
      writer.tag(field.no, 1);
      writer.double(number);
      return;
    }
    default: {
      const number = Number(value);
      if (number === 0) return;
      // A varint loop over Infinity never ends; NaN or a fraction has no integer encoding.
      if (!Number.isSafeInteger(Math.trunc(number))) throw new RangeError(`${field.name} is not an integer a double holds exactly: ${value}`);
      writer.tag(field.no, 0);
      if (number < 0) writer.negativeVarint(number);
      else writer.varint(field.kind === 'uint32' || field.kind === 'int32' ? number >>> 0 : number);
    }
  }
}

function readMessage(reader: Reader, type: string, end: number, onField?: (name: string) => void): Fields {
  const fields = DESCRIPTORS[type]!;
  const result: Fields = {};
  for (const field of fields) result[field.name] = defaultOf(field);
  while (reader.pos < end) {
    const tag = reader.varint();
    const no = Math.floor(tag / 8);
    const wireType = tag % 8;
    const field = fields.find((candidate) => candidate.no === no);
    if (!field) {
      reader.skip(wireType, end);
      continue;
    }
    if (wireType !== wireTypeOf(field)) throw new RangeError(`field ${type}.${field.name} has wire type ${wireType}`);
    onField?.(field.name);
    if (field.kind === 'message') {
      const length = reader.varint();
      const nestedEnd = reader.pos + length;
      if (nestedEnd > end) throw new RangeError('length beyond the end of the message');
      const nested = readMessage(reader, field.type!, nestedEnd);
      if (field.repeated) (result[field.name] as Fields[]).push(nested);
      else result[field.name] = nested;
      continue;
    }
    result[field.name] = readScalar(reader, field, end);
  }
  if (reader.pos !== end) throw new RangeError('message overruns its length');
  return result;
}

function readScalar(reader: Reader, field: FieldDescriptor, end: number): unknown {
  switch (field.kind) {
    case 'string':
      return utf8Decoder.decode(reader.lengthDelimited(end));
    case 'bytes':
      return reader.lengthDelimited(end).slice();
    case 'double':
      return reader.double(end);
    case 'int32':
      return reader.varint(true) | 0;
    case 'uint32':
      return reader.varint(true) >>> 0;
    case 'int64':
      return reader.varint(true);
    default:
      return reader.varint();
  }
}

function defaultOf(field: FieldDescriptor): unknown {
  if (field.repeated) return [];
  switch (field.kind) {
    case 'message':
      return null;
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    default:
      return 0;
  }
}

function wireTypeOf(field: FieldDescriptor): number {
  if (field.kind === 'message' || field.kind === 'string' || field.kind === 'bytes') return 2;
  return field.kind === 'double' ? 1 : 0;
}

class Writer {
  private buffer = new Uint8Array(64);
  private length = 0;

  tag(no: number, wireType: number): void {
    this.varint(no * 8 + wireType);
  }

  /** A non-negative integer up to 2^53. */
  varint(value: number): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  /** A negative int32/int64: ten bytes of 64-bit two's complement, as protobuf requires. */
  negativeVarint(value: number): void {
    let v = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    this.reserve(10);
    for (let i = 0; i < 9; i++) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
  }

  double(value: number): void {
    this.reserve(8);
    new DataView(this.buffer.buffer).setFloat64(this.length, value, true);
    this.length += 8;
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

class Reader {
  pos = 0;

  constructor(private readonly buffer: Uint8Array) {}

  /** Reads a varint as a number; `signed`: a 64-bit two's complement value (int64). */
  varint(signed = false): number {
    let value = 0;
    let factor = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buffer.length) throw new RangeError('truncated varint');
      const byte = this.buffer[this.pos++]!;
      if (i === 7 && byte >= 0x80) return this.bigVarint(start, signed);
      value += (byte & 0x7f) * factor;
      if (byte < 0x80) return value;
      factor *= 0x80;
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  /** Values of 8–10 bytes (above 2^49, or negative) exactly, through BigInt. */
  private bigVarint(start: number, signed: boolean): number {
    this.pos = start;
    let value = 0n;
    for (let i = 0n; i < 70n; i += 7n) {
      if (this.pos >= this.buffer.length) throw new RangeError('truncated varint');
      const byte = this.buffer[this.pos++]!;
      value |= BigInt(byte & 0x7f) << i;
      if (byte < 0x80) {
        const bits = BigInt.asUintN(64, value);
        return Number(signed ? BigInt.asIntN(64, bits) : bits);
      }
    }
    throw new RangeError('varint longer than 10 bytes');
  }

  double(end: number): number {
    if (this.pos + 8 > end) throw new RangeError('truncated double');
    const value = new DataView(this.buffer.buffer, this.buffer.byteOffset).getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  lengthDelimited(end: number): Uint8Array {
    const length = this.varint();
    if (this.pos + length > end) throw new RangeError('length beyond the end of the message');
    const bytes = this.buffer.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.lengthDelimited(end);
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > end) throw new RangeError('truncated field');
  }
}
