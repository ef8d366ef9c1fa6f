import type { DeviceId, Eid, Offset } from './types.js';

/** "User `eid` has entries up to `head`" — the only thing a node tells another about new entries. */
export interface EntriesNotice {
  kind: 'entries';
  eid: Eid;
  head: Offset;
}

/** "Device (eid, device) connected on node `nodeId`" — other nodes close their older connection. */
export interface DeviceClaimNotice {
  kind: 'device-claim';
  eid: Eid;
  device: DeviceId;
  nodeId: string;
  connectionId: string;
}

export type BusNotice = EntriesNotice | DeviceClaimNotice;

/**
 * Small notices between nodes. At-most-once: a notice may be lost (a bus outage, a node that was not
 * subscribed yet). That costs a catch-up read from the store, never a message — the store is the
 * truth and a session behind reads from it. A node receives its own notices too.
 */
export interface Bus {
  publish(notice: BusNotice): Promise<void>;
  /** Calls `listener` for every notice published by any node; returns an unsubscribe function. */
  subscribe(listener: (notice: BusNotice) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
