/**
 * One node's view of a MessageStore shared in-process by several BimipServers, with the cursor
 * behaviour of a store shared between processes (PostgreSQL, core/message-store.ts "Cursors may wait
 * in the instance that received the commit"): a commit waits in this view for `flushMs` or until
 * `flushCursor`, and other views read the last flushed value until then. Everything else goes
 * straight to the shared store, which stays the single source of truth. Without it, nodes sharing
 * one SQLite store object would see each other's pending commits at once, and a test could not show
 * what a missing cursor handoff does.
 */
import type { MessageStore, PruneResult } from '../../src/core/message-store.js';
import type { AppendedMessage, DeviceId, Eid, NewMessage, NewReceipt, Offset, QueueEntry, QueueInfo, ReceiptOutcome } from '../../src/core/types.js';

export class NodeCursorView implements MessageStore {
  private readonly pending = new Map<string, { eid: Eid; device: DeviceId; offset: Offset }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly shared: MessageStore,
    private readonly flushMs: number,
  ) {}

  appendMessage(message: NewMessage): Promise<AppendedMessage> {
    return this.shared.appendMessage(message);
  }

  appendReceipt(receipt: NewReceipt): Promise<ReceiptOutcome> {
    return this.shared.appendReceipt(receipt);
  }

  readEntries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]> {
    return this.shared.readEntries(eid, afterOffset, limit);
  }

  queueInfo(eid: Eid): Promise<QueueInfo> {
    return this.shared.queueInfo(eid);
  }

  async getCursor(eid: Eid, device: DeviceId): Promise<Offset | undefined> {
    const stored = await this.shared.getCursor(eid, device);
    const pending = this.pending.get(key(eid, device))?.offset;
    return pending === undefined ? stored : Math.max(pending, stored ?? 0);
  }

  async commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void> {
    const previous = this.pending.get(key(eid, device))?.offset ?? 0;
    this.pending.set(key(eid, device), { eid, device, offset: Math.max(previous, offset) });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flushAll();
    }, this.flushMs);
  }

  async flushCursor(eid: Eid, device: DeviceId): Promise<void> {
    const pending = this.pending.get(key(eid, device));
    if (!pending) return;
    this.pending.delete(key(eid, device));
    await this.shared.commitCursor(eid, device, pending.offset);
  }

  async deleteCursors(eid: Eid, device: DeviceId): Promise<void> {
    for (const [k, cursor] of this.pending) if (cursor.eid === eid && (device === '' || cursor.device === device)) this.pending.delete(k);
    await this.shared.deleteCursors(eid, device);
  }

  knownDevices(eid: Eid): Promise<DeviceId[]> {
    return this.shared.knownDevices(eid);
  }

  deviceCount(eid: Eid): Promise<number> {
    return this.shared.deviceCount(eid);
  }

  pruneOlderThan(cutoffMs: number, maxEntries: number): Promise<PruneResult> {
    return this.shared.pruneOlderThan(cutoffMs, maxEntries);
  }

  ping(): Promise<void> {
    return this.shared.ping();
  }

  /** Persists this view's pending commits; the shared store stays open (the test closes it). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushAll();
  }

  private async flushAll(): Promise<void> {
    for (const { eid, device } of [...this.pending.values()]) await this.flushCursor(eid, device);
  }
}

function key(eid: Eid, device: DeviceId): string {
  return `${Buffer.byteLength(eid)}:${eid}${device}`;
}
