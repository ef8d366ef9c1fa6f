/** A Transport for unit tests: records every frame, and lets the test play the socket's send buffer. */
import type { Transport } from '../../src/core/transport.js';
import { decodeFrame, type Frame } from '../../src/protocol/index.js';

export class FakeTransport implements Transport {
  readonly sent: Uint8Array[] = [];
  closed: { code: number; reason: string } | undefined;
  private buffered = 0;
  private waiters: Array<{ below: number; resolve(): void }> = [];

  get isOpen(): boolean {
    return this.closed === undefined;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Pretends the kernel has (or has not) taken the queued bytes; wakes waiters once below their mark. */
  setBufferedBytes(bytes: number): void {
    this.buffered = bytes;
    this.wakeWaiters();
  }

  /** Pretends the socket drained completely ('drain' event). */
  drain(): void {
    this.setBufferedBytes(0);
  }

  /** How many callers are waiting for the buffer to drain. */
  get drainWaiters(): number {
    return this.waiters.length;
  }

  send(frame: Uint8Array): void {
    if (!this.isOpen) throw new Error('send on a closed FakeTransport');
    this.sent.push(frame);
  }

  whenBufferedBelow(bytes: number): Promise<void> {
    if (this.buffered < bytes || !this.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below: bytes, resolve }));
  }

  /** True while the session has asked to stop reading (too much input in flight). */
  readingPaused = false;

  pauseReading(): void {
    this.readingPaused = true;
  }

  resumeReading(): void {
    this.readingPaused = false;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** Every frame sent so far, decoded. */
  frames(): Frame[] {
    return this.sent.map((bytes) => decodeFrame(bytes));
  }

  /** user_offset of every Message frame sent so far, in send order. */
  messageOffsets(): number[] {
    return this.frames().flatMap((frame) => (frame.field === 'message' ? [frame.value.userOffset] : []));
  }

  /** Every Sync frame sent so far. */
  syncs(): Extract<Frame, { field: 'sync' }>['value'][] {
    return this.frames().flatMap((frame) => (frame.field === 'sync' ? [frame.value] : []));
  }

  private wakeWaiters(): void {
    const ready = this.waiters.filter((waiter) => this.buffered < waiter.below);
    this.waiters = this.waiters.filter((waiter) => this.buffered >= waiter.below);
    for (const waiter of ready) waiter.resolve();
  }
}
