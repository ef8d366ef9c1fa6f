/** SPEC §6 F4 receipts and F5 transient signals over real sockets with the SDK. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushNotice } from '../../src/core/push-hook.js';
import type { BimipConnection } from '../../src/client/index.js';
import { noEntryWithin, startHarness, takeEntries, takeMessages, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait.js';

/** Receipts are answered only on failure, after their commit: negative checks wait this long. */
const SETTLE_MS = 200;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let h: Harness;
let pushes: PushNotice[];
beforeEach(async () => {
  pushes = [];
  h = await startHarness({ session: { ratePerSecond: 0 }, pushHook: { notify: (notice) => pushes.push(notice) } });
});
afterEach(async () => {
  await h.close();
});

const online = (eid: string, device: string): Promise<BimipConnection> => h.online(eid, device);

async function waitForHead(eid: string, head: number, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await h.store.queueInfo(eid)).head < head) {
    if (Date.now() > deadline) throw new Error(`queue of ${eid} never reached ${head}`);
    await pause(5);
  }
}

async function nextSignal(client: BimipConnection, timeoutMs = 2000) {
  const next = await Promise.race([client.signals.next(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  if (next === 'timeout' || next.done) throw new Error('no transient signal arrived');
  return next.value;
}

async function noSignalWithin(client: BimipConnection, ms: number): Promise<boolean> {
  if (client.signals.size > 0) return false;
  return new Promise((resolve) => setTimeout(() => resolve(client.signals.size === 0), ms));
}

describe('receipts (F4)', () => {
  it('receipts - READ from B reaches every device of A and B’s other devices as a stored entry', async () => {
    const aPhone = await online('a@example.com', 'phone');
    const aLaptop = await online('a@example.com', 'laptop');
    const bPhone = await online('b@example.com', 'phone');
    const bTablet = await online('b@example.com', 'tablet');
    const ack = await aPhone.send({ to: 'b@example.com', id: 'm1', payload: 'hi' });
    const [delivered] = await takeMessages(bPhone, 1);
    await takeEntries(bTablet, 1);
    await takeEntries(aLaptop, 1);

    bPhone.sendReceipt(delivered!.message, 3);
    for (const device of [aPhone, aLaptop]) {
      const [entry] = await takeEntries(device, 1);
      expect(entry!.kind).toBe('signal');
      if (entry!.kind !== 'signal') return;
      expect(entry!.signal).toMatchObject({ id: 'm1', signalId: ack.signalId, status: 3, userOffset: entry!.offset });
      expect(entry!.signal.from).toMatchObject({ eid: 'b@example.com', connectionResourceId: 'phone' });
    }
    const [onTablet] = await takeEntries(bTablet, 1);
    expect(onTablet).toMatchObject({ kind: 'signal', offset: 2 });
    // The device that sent it does not get it back.
    expect(await noEntryWithin(bPhone, 150)).toBe(true);
  });

  it('receipts - stored once per (message, status); DELIVERED after READ is dropped; an offline device sees them in order', async () => {
    const aPhone = await online('a@example.com', 'phone');
    await aPhone.close();
    const aSender = await online('a@example.com', 'web');
    const bPhone = await online('b@example.com', 'phone');
    const bLaptop = await online('b@example.com', 'laptop');
    await aSender.send({ to: 'b@example.com', id: 'm1' });
    const [message] = await takeMessages(bPhone, 1);
    await takeEntries(bLaptop, 1);

    bPhone.sendReceipt(message!.message, 3); // READ
    bLaptop.sendReceipt(message!.message, 3); // READ again from another device: not stored again
    bLaptop.sendReceipt(message!.message, 2); // DELIVERED after READ: dropped
    bPhone.sendReceipt(message!.message, 5); // PLAYED
    await waitForHead('a@example.com', 3);
    await pause(SETTLE_MS);

    expect((await h.store.queueInfo('a@example.com')).head).toBe(3);
    const again = await h.connect('a@example.com', 'phone');
    const entries = await takeEntries(again, 3);
    expect(entries.map((e) => e.kind)).toEqual(['message', 'signal', 'signal']);
    expect(entries.map((e) => e.offset)).toEqual([1, 2, 3]);
    expect(entries.slice(1).map((e) => (e.kind === 'signal' ? e.signal.status : 0))).toEqual([3, 5]);
    await again.caughtUp;
    expect(await noEntryWithin(again, 150)).toBe(true);
    expect((await h.store.queueInfo('a@example.com')).head).toBe(3);
  });

  it('receipts - survive a restart', async () => {
    const a = await online('a@example.com', 'phone');
    const b = await online('b@example.com', 'phone');
    await a.send({ to: 'b@example.com', id: 'm1' });
    const [message] = await takeMessages(b, 1);
    b.sendReceipt(message!.message, 2);
    await takeEntries(a, 1);
    await h.restart();
    const a2 = await h.connect('a@example.com', 'tablet');
    const replay = await a2.sync(0, 10);
    expect(replay.entries.map((e) => e.kind)).toEqual(['message', 'signal']);
    // A DELIVERED again after the restart is still a duplicate.
    const b2 = await online('b@example.com', 'phone');
    b2.sendReceipt(message!.message, 2);
    await pause(SETTLE_MS);
    expect((await h.store.queueInfo('a@example.com')).head).toBe(2);
  });

  it('receipts - unknown message → 404; not the recipient → 403; nothing stored', async () => {
    const a = await online('a@example.com', 'phone');
    const c = await online('c@example.com', 'phone');
    await online('b@example.com', 'phone');
    const ack = await a.send({ to: 'b@example.com', id: 'm1' });
    c.sendReceipt({ id: 'm1', signalId: '999999', from: { eid: 'a@example.com' } }, 3);
    c.sendReceipt({ id: 'm1', signalId: ack.signalId, from: { eid: 'a@example.com' } }, 3);
    await waitFor(() => c.errors.length >= 2, 'two receipt errors');
    expect(c.errors.map((e) => [e.code, e.errorOrigin, e.id])).toEqual([
      [404, 12, 'm1'],
      [403, 12, 'm1'],
    ]);
    expect((await h.store.queueInfo('a@example.com')).head).toBe(1);
    expect((await h.store.queueInfo('c@example.com')).head).toBe(0);
  });
});

describe('transient signals (F5)', () => {
  it('signals - TYPING reaches the recipient’s online devices and is never stored', async () => {
    const a = await online('a@example.com', 'phone');
    const bPhone = await online('b@example.com', 'phone');
    const bLaptop = await online('b@example.com', 'laptop');
    a.sendSignal('b@example.com', 6);
    for (const device of [bPhone, bLaptop]) {
      const signal = await nextSignal(device);
      expect(signal).toMatchObject({ status: 6, userOffset: 0 });
      expect(signal.from).toMatchObject({ eid: 'a@example.com', connectionResourceId: 'phone' });
    }
    expect((await h.store.queueInfo('b@example.com')).head).toBe(0);
    // A device that connects later never sees it.
    const late = await online('b@example.com', 'tablet');
    expect(await noSignalWithin(late, 150)).toBe(true);
    expect(await noEntryWithin(late, 10)).toBe(true);
  });

  it('signals - a signal to one device reaches only that device', async () => {
    const a = await online('a@example.com', 'phone');
    const bPhone = await online('b@example.com', 'phone');
    const bLaptop = await online('b@example.com', 'laptop');
    a.sendSignal({ eid: 'b@example.com', connectionResourceId: 'laptop' }, 7);
    expect((await nextSignal(bLaptop)).status).toBe(7);
    expect(await noSignalWithin(bPhone, 150)).toBe(true);
  });

  it('signals - CALLING to a user with no online device raises a push notice; online, it does not', async () => {
    // Notices go to known devices only (issue #7): B's phone has connected before (its cursor is written).
    await (await online('b@example.com', 'phone')).close();
    for (let tries = 0; !(await h.store.knownDevices('b@example.com')).includes('phone'); tries++) {
      if (tries > 200) throw new Error("B's phone never became a known device");
      await pause(5);
    }
    const a = await online('a@example.com', 'phone');
    a.sendSignal('b@example.com', 11, 'call-1');
    await waitFor(() => pushes.length >= 1, 'the CALLING push notice');
    expect(pushes).toEqual([
      expect.objectContaining({ kind: 'calling', to: 'b@example.com', from: 'a@example.com', messageId: 'call-1', status: 11, offlineDevices: ['phone'] }),
    ]);
    const b = await online('b@example.com', 'phone');
    a.sendSignal('b@example.com', 11, 'call-2');
    expect((await nextSignal(b)).id).toBe('call-2');
    expect(pushes).toHaveLength(1);
  });

  it('signals - bad signals get 400 (unknown status, receipt without signal_id, no to) and spoofed from 403', async () => {
    const a = await online('a@example.com', 'phone');
    const { encodeFrame } = await import('../../src/protocol/index.js');
    a.sendRaw(encodeFrame('signal', { id: 's1', to: { eid: 'b@example.com' }, status: 13 }));
    a.sendRaw(encodeFrame('signal', { id: 's2', to: { eid: 'b@example.com' }, status: 1 }));
    a.sendRaw(encodeFrame('signal', { id: 's3', to: { eid: 'b@example.com' }, status: 3 }));
    a.sendRaw(encodeFrame('signal', { id: 's4', status: 6 }));
    a.sendRaw(encodeFrame('signal', { id: 's5', to: { eid: 'b@example.com' }, status: 6, from: { eid: 'x@example.com', connectionResourceId: 'phone' } }));
    await a.ping();
    expect(a.errors.map((e) => [e.id, e.code, e.errorOrigin])).toEqual([
      ['s1', 400, 12],
      ['s2', 400, 12],
      ['s3', 400, 12],
      ['s4', 400, 12],
      ['s5', 403, 12],
    ]);
  });
});
