/**
 * SPEC §6 F9: when a message is stored for a user whose deliverable devices are offline, the push
 * hook gets a notice (to, the offline device ids, from, signal_id, message id, type, status,
 * timestamp) — never the payload. Which devices are known and offline, and whether the sender may
 * raise another notice, the push gate decides (push-gate.ts), as it does for CALLING.
 */
import type { Logger } from '../core/logger.js';
import { EntryKind, deliverable, type QueueEntry } from '../core/types.js';
import { pb } from '../protocol/index.js';
import type { PushGate } from './push-gate.js';

export class OfflinePushNotifier {
  constructor(private readonly deps: { gate: PushGate; logger: Logger }) {}

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
    const message = pb.Message.decode(entry.body);
    const candidate = {
      kind: 'entry',
      to: entry.eid,
      from: message.from?.eid ?? '',
      signalId: entry.signalId,
      messageId: message.id,
      type: message.type,
      status: message.status,
      timestamp: entry.storedAt,
    } as const;
    await this.deps.gate.offer(candidate, (device) => deliverable(entry, device));
  }
}
