/**
 * Turns a stored queue entry into the frame a device of that user receives: the stored body with
 * the user's own `user_offset` (SPEC §4). Encoded once per user queue and shared by its devices.
 */
import { Route, encodeFrame, pb } from '../protocol/index.js';
import { EntryKind, type QueueEntry } from '../core/types.js';

export function encodeEntryFrame(entry: QueueEntry): Uint8Array {
  switch (entry.kind) {
    case EntryKind.Message: {
      const message = pb.Message.decode(entry.body);
      message.userOffset = entry.offset;
      return encodeFrame('message', message);
    }
    case EntryKind.Signal: {
      const signal = pb.Signal.decode(entry.body);
      signal.userOffset = entry.offset;
      return encodeFrame('signal', signal);
    }
    case EntryKind.Contact: {
      const contact = pb.Contact.decode(entry.body);
      contact.userOffset = entry.offset;
      return encodeFrame('contact', contact);
    }
  }
}

/** The route an entry travels on (for metrics). */
export const ROUTE_OF_KIND: Record<EntryKind, number> = {
  [EntryKind.Message]: Route.Message,
  [EntryKind.Signal]: Route.Signal,
  [EntryKind.Contact]: Route.Contact,
};
