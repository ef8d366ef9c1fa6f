import type { DeviceId, Eid } from './types.js';

/** Something a sleeping device should be woken for (SPEC §6 F9); never carries an E2E payload. */
export interface PushNotice {
  kind: 'entry' | 'calling';
  to: Eid;
  /** The recipient's devices that are offline (empty when none is known). */
  offlineDevices: DeviceId[];
  from: Eid;
  signalId: string;
  messageId: string;
  type: number;
  status: number;
  timestamp: number;
}

/** Where push notices go; the webhook engine delivers them, the default drops them. */
export interface PushHook {
  /**
   * Takes one notice. Called on the send path (SPEC §6 F5, F9), so it returns at once and never
   * throws: an implementation queues the notice and does its I/O (disk, network) off the event loop.
   */
  notify(notice: PushNotice): void;
}

export const noPushHook: PushHook = { notify: () => undefined };
