/**
 * Turns a stored queue entry into the frame a device of that user receives: the stored body with
 * the user's own `user_offset` (SPEC §4). Built once per user queue and shared by its devices.
 */
import { Route } from '../protocol/index.js';
import { EntryKind, type QueueEntry } from '../core/types.js';
import { varintSize, writeVarint } from './varint.js';

/**
 * Wire constants of the three entry kinds (bimip.proto): the MessageScheme route, the tag of the
 * payload field (= route, length-delimited) and the tag of the payload's `user_offset` (varint).
 */
const LAYOUT: Record<EntryKind, { route: number; payloadTag: number; offsetTag: number }> = {
  [EntryKind.Message]: { route: Route.Message, payloadTag: (Route.Message << 3) | 2, offsetTag: 12 << 3 },
  [EntryKind.Signal]: { route: Route.Signal, payloadTag: (Route.Signal << 3) | 2, offsetTag: 7 << 3 },
  [EntryKind.Contact]: { route: Route.Contact, payloadTag: (Route.Contact << 3) | 2, offsetTag: 9 << 3 },
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
  const { route, payloadTag, offsetTag } = LAYOUT[entry.kind];
  const body = entry.body;
  const payloadLength = body.length + 1 + varintSize(entry.offset);
  const frame = new Uint8Array(2 + varintSize(payloadTag) + varintSize(payloadLength) + payloadLength);
  let at = 0;
  frame[at++] = 1 << 3; // route = 1, varint
  frame[at++] = route; // every entry route is below 128
  at = writeVarint(frame, at, payloadTag);
  at = writeVarint(frame, at, payloadLength);
  frame.set(body, at);
  at += body.length;
  frame[at++] = offsetTag;
  writeVarint(frame, at, entry.offset);
  return frame;
}

/** The route an entry travels on (for metrics). */
export const ROUTE_OF_KIND: Record<EntryKind, number> = {
  [EntryKind.Message]: Route.Message,
  [EntryKind.Signal]: Route.Signal,
  [EntryKind.Contact]: Route.Contact,
};
