/** The authenticated sender of a frame or an admin-API request, and the SPEC §4 `from` rule. */
import type { IdentityInit } from '../protocol/index.js';

/** A device session, or the admin API acting for a user or the system. */
export interface Sender {
  eid: string;
  device: string;
}

/**
 * SPEC §4 `from`: empty means the sender's identity; any other value than exactly the sender's
 * eid and device is a spoof (403).
 */
export function isSpoofed(sender: Sender, from: IdentityInit | null | undefined): boolean {
  if (!from || (!from.eid && !from.connectionResourceId)) return false;
  return from.eid !== sender.eid || from.connectionResourceId !== sender.device;
}

/** The sender as the `from` of a stored or relayed frame. */
export function identityOf(sender: Sender): IdentityInit {
  return { eid: sender.eid, connectionResourceId: sender.device };
}
