/**
 * The Ack frame (SPEC §6 F1; route 13), written straight into bytes. Every stored message is
 * answered by one, so it is the most frequent frame after entries; protobufjs spent a Writer, a
 * fork per nested message and a LongBits object per 64-bit field on each (issue #10, W1 allocation
 * profile). Fields at their proto3 default are left out, which every decoder reads the same way
 * (test/unit/ack-frame.property.test.ts holds it to protobufjs' decoding).
 */
import { Buffer } from 'node:buffer';
import { Route, encodeFrame } from '../protocol/index.js';
import { schemeHeaderSize, varintSize, writeSchemeHeader, writeVarint } from './wire.js';

export interface AckFields {
  id: string;
  signalId: string;
  userOffset: number;
  status: number;
  code: number;
  timestamp: number;
  details: string;
}

export function encodeAckFrame(ack: AckFields): Uint8Array {
  const { userOffset, status, code, timestamp } = ack;
  // Negative or fractional numbers would need int64 two's-complement varints: leave them to protobufjs.
  if (!isVarint(userOffset) || !isVarint(status) || !isVarint(code) || !isVarint(timestamp)) {
    return encodeFrame('ack', ack);
  }
  const idBytes = Buffer.byteLength(ack.id);
  const signalIdBytes = Buffer.byteLength(ack.signalId);
  const detailsBytes = Buffer.byteLength(ack.details);
  const payloadLength =
    stringFieldSize(idBytes) +
    stringFieldSize(signalIdBytes) +
    varintFieldSize(userOffset) +
    varintFieldSize(status) +
    varintFieldSize(code) +
    varintFieldSize(timestamp) +
    stringFieldSize(detailsBytes);
  const frame = Buffer.allocUnsafe(schemeHeaderSize(Route.Ack, payloadLength) + payloadLength);
  let at = writeSchemeHeader(frame, Route.Ack, payloadLength);
  at = writeString(frame, at, 1, ack.id, idBytes);
  at = writeString(frame, at, 2, ack.signalId, signalIdBytes);
  at = writeVarintField(frame, at, 3, userOffset);
  at = writeVarintField(frame, at, 4, status);
  at = writeVarintField(frame, at, 5, code);
  at = writeVarintField(frame, at, 6, timestamp);
  writeString(frame, at, 7, ack.details, detailsBytes);
  return frame;
}

function isVarint(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function stringFieldSize(bytes: number): number {
  return bytes === 0 ? 0 : 1 + varintSize(bytes) + bytes;
}

function varintFieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

function writeVarintField(into: Buffer, at: number, field: number, value: number): number {
  if (value === 0) return at;
  into[at] = field << 3;
  return writeVarint(into, at + 1, value);
}

function writeString(into: Buffer, at: number, field: number, value: string, bytes: number): number {
  if (bytes === 0) return at;
  into[at] = (field << 3) | 2;
  const start = writeVarint(into, at + 1, bytes);
  into.write(value, start, bytes, 'utf8');
  return start + bytes;
}
