/**
 * Turns a stored queue entry into the frame a device of that user receives: the stored body with
 * the user's own `user_offset` (SPEC §4). Encoded once per user queue and shared by its devices.
 */
import { encodeFrame, pb } from '../protocol/index.js';
import { EntryKind, type QueueEntry } from '../core/types.js';

export function encodeEntryFrame(entry: QueueEntry): Uint8Array {
  switch (entry.kind) {
    case EntryKind.Message: {
      const message = pb.Message.decode(entry.body);
      message.userOffset = entry.offset;
      return encodeFrame('message', message);
    }
    default:
      throw new Error(`entry kind ${entry.kind} has no frame encoder`);
  }
}
