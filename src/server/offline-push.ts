/**
 * SPEC §6 F9: when a message is stored for a user whose deliverable devices are offline, the push
 * hook gets a notice (to, the offline device ids, from, signal_id, message id, type, status,
 * timestamp) — never the payload. "Devices" are the ones the user has connected with before (they
 * have a cursor); online means connected to any node, as the presence store knows it.
 */
import type { PresenceStore } from '../core/presence-store.js';
import type { PushHook } from '../core/push-hook.js';
import type { MessageStore } from '../core/message-store.js';
import { EntryKind, deliverable, type QueueEntry } from '../core/types.js';
import { pb } from '../protocol/index.js';
import type { Logger } from '../core/logger.js';

export class OfflinePushNotifier {
  constructor(
    private readonly deps: { store: MessageStore; presence: PresenceStore; pushHook: PushHook; logger: Logger },
  ) {}

  /** Looks at freshly stored entries; never throws (a push is a wake-up, not part of the send). */
  async entriesStored(entries: readonly QueueEntry[]): Promise<void> {
    for (const entry of entries) {
      if (entry.kind !== EntryKind.Message) continue;
      try {
        await this.consider(entry);
      } catch (err) {
        this.deps.logger.warn({ err }, 'push notice could not be prepared');
      }
    }
  }

  private async consider(entry: QueueEntry): Promise<void> {
    const [known, online] = await Promise.all([this.deps.store.knownDevices(entry.eid), this.deps.presence.onlineDevices(entry.eid)]);
    const onlineSet = new Set(online);
    const offline = known.filter((device) => !onlineSet.has(device) && deliverable(entry, device));
    if (offline.length === 0) return;
    const message = pb.Message.decode(entry.body);
    this.deps.pushHook.notify({
      kind: 'entry',
      to: entry.eid,
      offlineDevices: offline,
      from: message.from?.eid ?? '',
      signalId: entry.signalId,
      messageId: message.id,
      type: message.type,
      status: message.status,
      timestamp: entry.storedAt,
    });
  }
}
