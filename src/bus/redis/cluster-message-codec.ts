/**
 * ClusterMessage ⇄ Redis pub/sub payload. Binary, because a 'frame' message carries an encoded
 * protobuf frame: the payload is
 *   [version u8 = 1][header length u32 BE][header: JSON of the message without `frame`, plus `n` =
 *   the sender's node id][the frame's bytes, raw]
 * Raw bytes instead of base64 inside JSON: no 33 % growth and no encode/decode pass over the frame,
 * the hot path of typing signals and awareness (ioredis hands the payload over as a Buffer through
 * its `messageBuffer` event). JSON for the small fields keeps the union easy to extend and to read in
 * `redis-cli monitor`.
 */
import type { ClusterMessage } from '../../core/bus.js';

const VERSION = 1;
const HEADER_OFFSET = 5;
const KINDS = new Set<string>(['entries', 'frame', 'close', 'claim', 'released', 'revoked']);

export function encodeClusterMessage(nodeId: string, message: ClusterMessage): Buffer {
  const frame = message.kind === 'frame' ? message.frame : undefined;
  const header = Buffer.from(JSON.stringify({ ...message, frame: undefined, n: nodeId }));
  const payload = Buffer.allocUnsafe(HEADER_OFFSET + header.length + (frame?.length ?? 0));
  payload.writeUInt8(VERSION, 0);
  payload.writeUInt32BE(header.length, 1);
  header.copy(payload, HEADER_OFFSET);
  if (frame) payload.set(frame, HEADER_OFFSET + header.length);
  return payload;
}

/** Throws on a payload this version cannot read (the caller logs and drops it). */
export function decodeClusterMessage(payload: Buffer): { nodeId: string; message: ClusterMessage } {
  if (payload.length < HEADER_OFFSET || payload.readUInt8(0) !== VERSION) throw new Error('unknown bus payload version');
  const headerLength = payload.readUInt32BE(1);
  const frameStart = HEADER_OFFSET + headerLength;
  if (frameStart > payload.length) throw new Error('truncated bus payload');
  const header = JSON.parse(payload.toString('utf8', HEADER_OFFSET, frameStart)) as { n?: unknown; kind?: unknown };
  const { n: nodeId, ...fields } = header;
  if (typeof nodeId !== 'string' || typeof fields.kind !== 'string' || !KINDS.has(fields.kind)) throw new Error('malformed bus payload');
  const message = fields as ClusterMessage;
  // A copy: the frame outlives this payload (queued on sockets), and the payload may share its memory.
  if (message.kind === 'frame') message.frame = new Uint8Array(payload.subarray(frameStart));
  return { nodeId, message };
}
