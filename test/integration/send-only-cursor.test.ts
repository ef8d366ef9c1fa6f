/**
 * Issue #10: a device that only sends is never pushed its own entries, so it never commits; the
 * server moves its cursor over them (once nothing pushed is uncommitted), so a reconnect starts at
 * the head instead of re-reading everything it ever sent. Nothing deliverable is ever passed over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, messagesOf, startHarness, takeEntries } from '../helpers/harness.js';
import { within } from '../helpers/wait.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('cursor of a device that only sends', () => {
  it('send-only - the cursor follows the device’s own entries, persisted across a restart; the marker shows cursor = head', async () => {
    harness = await startHarness();
    const phone = await harness.online('so-a@example.com', 'phone');
    for (let i = 1; i <= 20; i++) expect((await phone.send({ to: 'so-b@example.com', id: `so-${i}`, payload: 'x' })).code).toBe(200);
    await expect.poll(() => harness!.store.getCursor('so-a@example.com', 'phone')).toBe(20);
    await phone.close();

    await harness.restart();
    const again = await harness.connect('so-a@example.com', 'phone');
    const marker = await within(again.caughtUp, 'caught-up marker');
    expect(marker).toMatchObject({ headOffset: 20, cursor: 20 });
  });

  it('send-only - an uncommitted pushed entry holds the cursor: what the device was pushed is re-sent after a reconnect', async () => {
    harness = await startHarness();
    const phone = await harness.online('so-c@example.com', 'phone');
    const friend = await harness.online('so-d@example.com', 'phone');
    expect((await friend.send({ to: 'so-c@example.com', id: 'in-1', payload: 'to c' })).code).toBe(200); // c's offset 1, pushed, not committed
    expect(messagesOf(await takeEntries(phone, 1))[0]!.message.id).toBe('in-1');
    for (let i = 1; i <= 5; i++) expect((await phone.send({ to: 'so-d@example.com', id: `out-${i}`, payload: 'x' })).code).toBe(200); // c's 2..6, skipped
    await phone.close();

    const again = await harness.connect('so-c@example.com', 'phone');
    expect(messagesOf(await takeEntries(again, 1)).map((entry) => entry.message.id)).toEqual(['in-1']);
    const marker = await within(again.caughtUp, 'caught-up marker');
    expect(marker).toMatchObject({ headOffset: 6, cursor: 0 });
    again.commit(1);
    await expect.poll(() => harness!.store.getCursor('so-c@example.com', 'phone')).toBeGreaterThanOrEqual(1);
  });
});
