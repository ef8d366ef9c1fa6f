import type { IdentityInit } from '../../protocol/index.js';
import type { DeviceSession } from '../session.js';

/**
 * SPEC §4 `from`: empty means the session's identity; any other value than exactly the session's
 * eid and device is a spoof (403).
 */
export function isSpoofed(session: DeviceSession, from: IdentityInit | null | undefined): boolean {
  if (!from || (!from.eid && !from.connectionResourceId)) return false;
  return from.eid !== session.eid || from.connectionResourceId !== session.deviceId;
}

export function identityOf(session: DeviceSession): IdentityInit {
  return { eid: session.eid, connectionResourceId: session.deviceId };
}
