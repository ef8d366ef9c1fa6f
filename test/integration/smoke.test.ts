import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, takeMessages, text, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('send', () => {
  it('send - A sends to B, gets Ack 200 and B receives it', async () => {
    const b = await h.connect('b@example.com', 'phone');
    await b.caughtUp;
    const a = await h.connect('a@example.com', 'phone');
    await a.caughtUp;
    const ack = await a.send({ to: 'b@example.com', payload: 'hello', id: 'm1' });
    expect(ack.code).toBe(200);
    expect(ack.userOffset).toBe(1);
    const [entry] = await takeMessages(b, 1);
    expect(text(entry!.message.payload)).toBe('hello');
    expect(entry!.offset).toBe(1);
    expect(entry!.message.signalId).toBe(ack.signalId);
  });
});
