/**
 * The message list. One `<li data-id>` per message id, whatever path it arrived by (live entry,
 * history replay, this page's own send), so a message is never shown twice; `data-deliveries`
 * counts how often the SDK's entry stream handed it over (the end-to-end test checks it is 1).
 *
 * Outgoing messages carry a tick: ◷ pending (in the outbox) → ✓ sent (Ack 200/409) → ✓✓
 * delivered → blue ✓✓ read, or ⚠ failed (refused for good, e.g. Ack 403 when blocked).
 * `data-trail` keeps the states in the order they were shown.
 */
import type { Message, Signal } from '@bimip/client';

export type OutgoingStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

const RANK: Record<OutgoingStatus, number> = { pending: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
const TICK: Record<OutgoingStatus, string> = { pending: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' };
const TICK_TITLE: Record<OutgoingStatus, string> = {
  pending: 'waiting to be stored by the server',
  sent: 'stored by the server (Ack)',
  delivered: 'delivered to the recipient',
  read: 'read by the recipient',
  failed: 'refused by the server',
};

/** Receipt statuses (SPEC §9) a Signal entry can carry. */
const DELIVERED = 2;
const READ = 3;

export class ChatView {
  constructor(
    private readonly list: HTMLUListElement,
    private readonly me: string,
  ) {}

  /** A message this page is sending: shown at once, pending. */
  addOutgoing(id: string, text: string, at: number): void {
    if (this.find(id)) return;
    const item = this.item(id, 'out', text, at, this.me);
    this.list.append(item);
    this.setStatus(item, 'pending');
    this.scrollDown();
  }

  /**
   * A message from the queue (live when `live`, else replayed history). Returns true when it is
   * new on this page, so the caller sends receipts once.
   */
  addFromQueue(message: Message, offset: number, live: boolean, position: 'end' | 'history' = 'end'): boolean {
    const from = message.from?.eid ?? '';
    const existing = this.find(message.id);
    if (existing) {
      if (live) existing.dataset['deliveries'] = String(Number(existing.dataset['deliveries'] ?? '0') + 1);
      existing.dataset['offset'] ??= String(offset);
      existing.dataset['signalId'] ||= message.signalId;
      // My own message seen again (another device of mine, or history): at least sent.
      if (existing.dataset['dir'] === 'out') this.raise(existing, 'sent');
      return false;
    }
    const outgoing = from === this.me;
    const item = this.item(message.id, outgoing ? 'out' : 'in', decodeText(message.payload), message.timestamp || message.serverTimestamp, from);
    item.dataset['offset'] = String(offset);
    item.dataset['signalId'] = message.signalId;
    item.dataset['deliveries'] = live ? '1' : '0';
    if (outgoing) this.setStatus(item, 'sent');
    else item.dataset['status'] = 'received';
    if (position === 'history') this.insertByOffset(item, offset);
    else this.list.append(item);
    this.scrollDown();
    return true;
  }

  /** The server stored one of ours (Ack 200, or 409 for a resend). */
  markSent(id: string, signalId: string, offset: number): void {
    const item = this.find(id);
    if (!item) return;
    item.dataset['signalId'] = signalId;
    if (offset > 0) item.dataset['offset'] = String(offset);
    this.raise(item, 'sent');
  }

  /** The server refused one of ours for good. */
  markFailed(id: string, reason: string): void {
    const item = this.find(id);
    if (item?.dataset['dir'] !== 'out') return;
    this.setStatus(item, 'failed');
    item.querySelector('.tick')!.setAttribute('title', reason);
  }

  /** A stored receipt (a Signal entry): DELIVERED / READ from the peer for one of ours; mine (other device) for theirs. */
  applyReceipt(signal: Signal): void {
    const item = this.find(signal.id);
    if (!item) return;
    if (item.dataset['dir'] === 'out' && signal.from?.eid !== this.me) {
      if (signal.status === DELIVERED) this.raise(item, 'delivered');
      else if (signal.status === READ) this.raise(item, 'read');
    } else if (item.dataset['dir'] === 'in' && signal.status === READ) {
      item.dataset['status'] = 'read';
    }
  }

  /** This page sent READ for an incoming message. */
  markIncomingRead(id: string): void {
    const item = this.find(id);
    if (item) item.dataset['status'] = 'read';
  }

  isIncomingRead(id: string): boolean {
    return this.find(id)?.dataset['status'] === 'read';
  }

  clear(): void {
    this.list.replaceChildren();
  }

  private find(id: string): HTMLLIElement | undefined {
    for (const item of this.list.children) {
      if ((item as HTMLLIElement).dataset['id'] === id) return item as HTMLLIElement;
    }
    return undefined;
  }

  private item(id: string, dir: 'in' | 'out', text: string, at: number, from: string): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset['id'] = id;
    item.dataset['dir'] = dir;
    item.className = dir;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = `${dir === 'in' && from ? `${from} · ` : ''}${formatTime(at)}`;
    item.append(body, meta);
    if (dir === 'out') {
      const tick = document.createElement('span');
      tick.className = 'tick';
      meta.append(' ', tick);
    }
    return item;
  }

  /** Moves an outgoing message forward (never back: a late Ack does not undo a receipt). */
  private raise(item: HTMLLIElement, status: OutgoingStatus): void {
    const current = (item.dataset['status'] ?? 'pending') as OutgoingStatus;
    if (current === 'failed' || RANK[status] <= RANK[current]) return;
    this.setStatus(item, status);
  }

  private setStatus(item: HTMLLIElement, status: OutgoingStatus): void {
    item.dataset['status'] = status;
    item.dataset['trail'] = item.dataset['trail'] ? `${item.dataset['trail']} ${status}` : status;
    const tick = item.querySelector<HTMLElement>('.tick');
    if (!tick) return;
    tick.textContent = TICK[status];
    tick.dataset['status'] = status;
    tick.title = TICK_TITLE[status];
  }

  /** History goes above live items, in offset order. */
  private insertByOffset(item: HTMLLIElement, offset: number): void {
    for (const other of this.list.children) {
      const otherOffset = Number((other as HTMLLIElement).dataset['offset'] ?? Number.POSITIVE_INFINITY);
      if (otherOffset > offset) {
        this.list.insertBefore(item, other);
        return;
      }
    }
    this.list.append(item);
  }

  private scrollDown(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }
}

/** Payloads are JSON `{"text": …}` by convention (SPEC §4); plain UTF-8 (e.g. `bimip send --text`) is shown as is. */
export function decodeText(payload: Uint8Array | undefined): string {
  const raw = payload && payload.length > 0 ? new TextDecoder().decode(payload) : '';
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { text?: unknown }).text === 'string') return (parsed as { text: string }).text;
  } catch {
    // not JSON: plain text
  }
  return raw;
}

export function encodeText(text: string): string {
  return JSON.stringify({ text });
}

export function formatTime(ms: number): string {
  if (!ms) return '';
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
