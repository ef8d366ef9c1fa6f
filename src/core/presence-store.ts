import type { DeviceId, Eid } from './types.js';

/** A user's current awareness (SPEC §4 Awareness, §6 F6). */
export interface AwarenessState {
  /** 1=ONLINE 2=OFFLINE 3=AWAY 4=BUSY 5=DND */
  status: number;
  /** Epoch ms the user was last online (0 unknown). */
  lastSeen: number;
  /** Epoch ms at which a device-set status reverts (0 = until changed). */
  expiresAt: number;
  ttl: number;
  locationSharing: number;
  latitude: number;
  longitude: number;
  details: string;
  /** Epoch ms of the change. */
  updatedAt: number;
}

/**
 * Who is online and each user's awareness and visibility. In the embedded default this lives in
 * memory; in cluster mode in Redis, shared by every node. Visibility is cached here from the
 * durable ContactStore so every node applies it.
 */
export interface PresenceStore {
  /** Marks a device online; `first` is true when no other device of the user was online. */
  deviceOnline(eid: Eid, device: DeviceId): Promise<{ first: boolean }>;
  /** Marks a device offline; `last` is true when no device of the user is online any more. */
  deviceOffline(eid: Eid, device: DeviceId): Promise<{ last: boolean }>;
  onlineDevices(eid: Eid): Promise<DeviceId[]>;
  getState(eid: Eid): Promise<AwarenessState | undefined>;
  setState(eid: Eid, state: AwarenessState): Promise<void>;
  /** undefined when not cached yet (load it from the ContactStore). */
  getHidden(eid: Eid): Promise<boolean | undefined>;
  setHidden(eid: Eid, hidden: boolean): Promise<void>;
}
