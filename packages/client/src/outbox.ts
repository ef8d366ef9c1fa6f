/**
 * Writes the outbox (client.ts) to the current connection: oldest first, at most `maxInFlight`
 * messages waiting for their Ack at a time (a reconnect after a long outage must not fire thousands
 * of frames into the server's rate limit), a 429/500/503 answer pausing everything with backoff and
 * resending from the oldest unconfirmed record, and receipts confirmed by the next PONG.
 *
 * Order: records are written in outbox order; a message refused with a retryable code is resent
 * after the messages already in flight behind it, so those may be stored before it.
 */
import { Code, Route, type Ack } from '@bimip/protocol/lite';
import { Backoff } from './backoff.js';
import type { ClientClock } from './clock.js';
import type { BimipConnection } from './connection.js';
import { ConnectionClosedError, SendRejectedError } from './errors.js';
import { type OutboxRecord, base64ToBytes } from './storage.js';

/** Ack codes that mean "try again later"; every other non-200/409 code is final. */
const RETRYABLE_ACKS = new Set<number>([Code.RateLimited, Code.Internal, Code.Unavailable]);

/** What the sender needs from the client that owns the records. */
export interface OutboxHost {
  /** The records, oldest first (the client's persisted outbox). */
  records(): readonly OutboxRecord[];
  /** The server confirmed the record: drop it (and persist). */
  confirmed(record: OutboxRecord, ack?: Ack): void;
  /** The server refused the message for good. */
  refused(record: OutboxRecord, error: Error): void;
}

export class OutboxSender {
  private connection: BimipConnection | undefined;
  /** Records already written on the current connection. */
  private written = new WeakSet<OutboxRecord>();
  /** Records whose save has not completed: not sent before they are safe on disk. */
  private readonly unsaved = new WeakSet<OutboxRecord>();
  private messagesInFlight = 0;
  private paused: { cancel(): void } | undefined;
  private readonly retry: Backoff;

  constructor(
    private readonly host: OutboxHost,
    private readonly clock: ClientClock,
    random: (() => number) | undefined,
    private readonly maxInFlight = 32,
  ) {
    this.retry = new Backoff({ initialDelayMs: 500, maxDelayMs: 10_000 }, random);
  }

  /** A new connection: everything unconfirmed goes out again on it. */
  attach(connection: BimipConnection): void {
    this.connection = connection;
    this.written = new WeakSet();
    this.messagesInFlight = 0;
    this.pump();
  }

  detach(): void {
    this.connection = undefined;
    this.paused?.cancel();
    this.paused = undefined;
  }

  /** The record was added but its save is still running. */
  holdUntilSaved(record: OutboxRecord): void {
    this.unsaved.add(record);
  }

  saved(record: OutboxRecord): void {
    this.unsaved.delete(record);
    this.pump();
  }

  /** Writes what is due, oldest first. */
  pump(): void {
    const connection = this.connection;
    if (!connection || this.paused) return;
    let receipts: OutboxRecord[] | undefined;
    for (const record of this.host.records()) {
      if (this.written.has(record)) continue;
      // Stop at the first record that cannot go yet: later ones must not overtake it.
      if (this.unsaved.has(record)) break;
      if (record.kind === 'message') {
        if (this.messagesInFlight >= this.maxInFlight) break;
        this.written.add(record);
        this.messagesInFlight++;
        void this.sendMessage(connection, record);
      } else {
        this.written.add(record);
        connection.writeFrame(base64ToBytes(record.frame));
        receipts ??= [];
        receipts.push(record);
      }
    }
    // Receipts have no answer on success: the PONG to a PING written after them says the server read them.
    if (receipts) void this.confirmReceipts(connection, receipts);
  }

  private async sendMessage(connection: BimipConnection, record: OutboxRecord): Promise<void> {
    let ack: Ack;
    try {
      ack = await connection.requestFrame<Ack>(Route.Message, record.id, base64ToBytes(record.frame));
    } catch (err) {
      if (connection !== this.connection || err instanceof ConnectionClosedError) return; // resent on the next connection
      // An ErrorMessage carrying the message's id: the server could not take it at all.
      this.messagesInFlight--;
      this.host.refused(record, err as Error);
      this.pump();
      return;
    }
    if (connection !== this.connection) return;
    this.messagesInFlight--;
    if (ack.code === Code.OK || ack.code === Code.Duplicate) {
      this.retry.reset();
      this.host.confirmed(record, ack);
      this.pump();
      return;
    }
    if (RETRYABLE_ACKS.has(ack.code)) {
      // Overloaded or rate limited: pause all sending, then start again from the oldest unconfirmed.
      this.written.delete(record);
      this.paused ??= this.clock.setTimeout(() => {
        this.paused = undefined;
        this.pump();
      }, this.retry.next());
      return;
    }
    this.host.refused(record, new SendRejectedError(record.id, ack.code, ack.details));
    this.pump();
  }

  private async confirmReceipts(connection: BimipConnection, receipts: OutboxRecord[]): Promise<void> {
    try {
      await connection.ping();
    } catch {
      return; // not confirmed: written again on the next connection (receipts are idempotent, F4)
    }
    for (const record of receipts) this.host.confirmed(record);
  }
}
