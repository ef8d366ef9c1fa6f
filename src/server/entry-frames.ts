/**
 * Turns a stored queue entry into the frame a device of that user receives: the stored body with
 * the user's own `user_offset` (SPEC §4). Built once per user queue and shared by its devices.
 */
import { Route } from '../protocol/index.js';
import { EntryKind, type QueueEntry } from '../core/types.js';
import { schemeHeaderSize, varintSize, writeSchemeHeader, writeVarint } from './wire.js';

/** The route an entry travels on (its MessageScheme route; also for metrics). */
export const ROUTE_OF_KIND: Record<EntryKind, number> = {
  [EntryKind.Message]: Route.Message,
  [EntryKind.Signal]: Route.Signal,
  [EntryKind.Contact]: Route.Contact,
};

/** The tag (varint) of each entry kind's `user_offset` field (bimip.proto). */
const OFFSET_TAG_OF_KIND: Record<EntryKind, number> = {
  [EntryKind.Message]: 12 << 3,
  [EntryKind.Signal]: 7 << 3,
  [EntryKind.Contact]: 9 << 3,
};

/**
 * Issue #10: the frame is spliced from bytes, not decoded and re-encoded. `MessageScheme{route,
 * payload}` is the route field, the payload's tag and length, the stored body, and the body's
 * `user_offset` appended as one more field — protobuf takes the last occurrence of a scalar field,
 * so a value already in the body is overridden exactly as setting the field would. Byte for byte it
 * can differ from protobufjs' output (field order); every decoder reads the same values
 * (test/unit/entry-frames.property.test.ts). Saves a decode, an encode and their garbage per push.
 */
export function encodeEntryFrame(entry: QueueEntry): Uint8Array {
  const route = ROUTE_OF_KIND[entry.kind];
  const body = entry.body;
  const payloadLength = body.length + 1 + varintSize(entry.offset);
  const frame = new Uint8Array(schemeHeaderSize(route, payloadLength) + payloadLength);
  let at = writeSchemeHeader(frame, route, payloadLength);
  frame.set(body, at);
  at += body.length;
  frame[at++] = OFFSET_TAG_OF_KIND[entry.kind];
  writeVarint(frame, at, entry.offset);
  return frame;
}
