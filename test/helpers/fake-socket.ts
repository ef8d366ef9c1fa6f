/**
 * A WebSocketLike for the SDK's unit tests: the test plays the server, feeding encoded frames in
 * and reading back (decoded) what the client wrote.
 */
import { expect } from 'vitest';
import { type Frame, type WebSocketLike, decodeFrame, encodeFrame } from '../../src/client/index.js';

export type FrameValue<F extends Frame['field']> = Extract<Frame, { field: F }>['value'];

export class FakeSocket implements WebSocketLike {
  binaryType = '';
  readyState = 0;
  readonly sent: Uint8Array[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  /** @param token the token the client opened it with */
  constructor(readonly token = '') {}

  send(data: Uint8Array): void {
    this.sent.push(data);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The connect attempt fails the way `ws` reports it (then the socket closes with 1006). */
  fail(message: string): void {
    this.onerror?.({ message });
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }

  /** The server pushes one frame. */
  push<F extends Frame['field']>(field: F, value: object): void {
    this.onmessage?.({ data: encodeFrame(field, value) });
  }

  frames(): Frame[] {
    return this.sent.map((bytes) => decodeFrame(bytes));
  }

  sentOf<F extends Frame['field']>(field: F): Array<FrameValue<F>> {
    return this.frames()
      .filter((frame) => frame.field === field)
      .map((frame) => frame.value as FrameValue<F>);
  }

  /** The last frame the client wrote, which must carry `field`. */
  lastSent<F extends Frame['field']>(field: F): FrameValue<F> {
    const frame = decodeFrame(this.sent.at(-1)!);
    expect(frame.field).toBe(field);
    return frame.value as FrameValue<F>;
  }

  /** Answers every PING written so far with its PONG. */
  pongAll(): void {
    for (const ping of this.sentOf('pingPong').filter((p) => p.type === 1)) this.push('pingPong', { id: ping.id, type: 2, timestamp: 1 });
  }

  /** The server's caught-up marker (SPEC F2). */
  caughtUp(values: { cursor?: number; head?: number; first?: number; epoch?: string } = {}): void {
    this.push('sync', {
      id: '',
      type: 2,
      headOffset: values.head ?? 0,
      cursor: values.cursor ?? 0,
      firstOffset: values.first ?? 1,
      epoch: values.epoch ?? 'E1',
    });
  }
}
