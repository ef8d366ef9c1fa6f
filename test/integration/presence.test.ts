/** SPEC §6 F6 awareness and visibility over real sockets with the SDK (short grace period). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BimipConnection } from '../../src/client/index.js';
import type { Awareness } from '../../src/protocol/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const GRACE_MS = 300;
let h: Harness;
beforeEach(async () => {
  h = await startHarness({ session: { ratePerSecond: 0 }, offlineGraceMs: GRACE_MS });
});
afterEach(async () => {
  await h.close();
});

const A = 'a@example.com';
const B = 'b@example.com';

const online = (eid: string, device: string): Promise<BimipConnection> => h.online(eid, device);

/** Makes A and B subscribed to each other. */
async function befriend(): Promise<void> {
  const a = await online(A, 'setup');
  const b = await online(B, 'setup');
  await a.subscribe(B);
  await b.approve(A);
  await a.close();
  await b.close();
  await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 150));
}

/** The next awareness update about `eid`. */
async function nextAbout(client: BimipConnection, eid: string, timeoutMs = 2000): Promise<Awareness> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`no awareness about ${eid}`);
    const next = await Promise.race([client.awareness.next(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), remaining))]);
    if (next === 'timeout' || next.done) throw new Error(`no awareness about ${eid}`);
    if (next.value.from?.eid === eid) return next.value;
  }
}

async function nothingAbout(client: BimipConnection, eid: string, ms: number): Promise<boolean> {
  try {
    await nextAbout(client, eid, ms);
    return false;
  } catch {
    return true;
  }
}

describe('awareness (F6)', () => {
  it('presence - subscribers see ONLINE when the first device connects and OFFLINE with last_seen after the grace period', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const a = await h.connect(A, 'phone');
    expect((await nextAbout(b, A)).status).toBe(1);
    const leftAt = Date.now();
    await a.close();
    const offline = await nextAbout(b, A, GRACE_MS + 1000);
    expect(offline.status).toBe(2);
    expect(offline.lastSeen).toBeGreaterThanOrEqual(leftAt - 50);
    expect(offline.lastSeen).toBeLessThanOrEqual(Date.now());
  });

  it('presence - reconnecting within the grace period produces no OFFLINE', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const a = await online(A, 'phone');
    await nextAbout(b, A);
    await a.close();
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 3));
    await online(A, 'phone');
    expect(await nothingAbout(b, A, GRACE_MS + 300)).toBe(true);
  });

  it('presence - on connect one Body carries the awareness of everyone the user is subscribed to', async () => {
    await befriend();
    await online(A, 'phone');
    const b = await h.connect(B, 'phone');
    const body = await b.awarenessSnapshot;
    expect(body.awarenessList).toEqual([expect.objectContaining({ from: expect.objectContaining({ eid: A }), status: 1 })]);
  });

  it('presence - a device-set AWAY reaches subscribers and the user’s other devices; ttl expiry reverts to ONLINE', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const aPhone = await online(A, 'phone');
    const aLaptop = await online(A, 'laptop');
    await nextAbout(b, A); // ONLINE
    aPhone.setAwareness({ status: 3, ttl: 1, details: 'lunch' });
    const away = await nextAbout(b, A);
    expect(away).toMatchObject({ status: 3, ttl: 1, details: 'lunch' });
    expect((await nextAbout(aLaptop, A)).status).toBe(3);
    const reverted = await nextAbout(b, A, 2500);
    expect(reverted.status).toBe(1);
  });

  it('presence - coordinates are stripped when location sharing is disabled', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const a = await online(A, 'phone');
    await nextAbout(b, A);
    a.setAwareness({ status: 4, locationSharing: 1, latitude: 52.5, longitude: 13.4 });
    expect(await nextAbout(b, A)).toMatchObject({ status: 4, latitude: 52.5, longitude: 13.4 });
    a.setAwareness({ status: 4, locationSharing: 2, latitude: 52.5, longitude: 13.4 });
    const hidden = await nextAbout(b, A);
    expect(hidden.latitude).toBe(0);
    expect(hidden.longitude).toBe(0);
  });

  it('presence - awareness already expired on arrival is dropped', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const a = await online(A, 'phone');
    await nextAbout(b, A);
    a.setAwareness({ status: 5, ttl: 5, timestamp: Date.now() - 10_000 });
    expect(await nothingAbout(b, A, 300)).toBe(true);
  });

  it('presence - a query answers for subscriptions and is refused (403) otherwise', async () => {
    await befriend();
    await online(A, 'phone');
    const b = await online(B, 'phone');
    const answer = await b.queryAwareness(A);
    expect(answer).toMatchObject({ type: 2, status: 1 });
    const c = await online('c@example.com', 'phone');
    await expect(c.queryAwareness(A)).rejects.toMatchObject({ code: 403 });
  });

  it('presence - bad awareness requests get 400', async () => {
    const a = await online(A, 'phone');
    const { encodeFrame } = await import('../../src/protocol/index.js');
    a.sendRaw(encodeFrame('awareness', { id: 'w1', type: 1, status: 2 }));
    a.sendRaw(encodeFrame('awareness', { id: 'w2', type: 1, status: 9 }));
    a.sendRaw(encodeFrame('awareness', { id: 'w3', type: 2, status: 1 }));
    a.sendRaw(encodeFrame('awareness', { id: 'w4', type: 1, status: 1, locationSharing: 5 }));
    a.sendRaw(encodeFrame('awarenessVisibility', { id: 'w5', type: 7 }));
    await a.ping();
    expect(a.errors.map((e) => [e.id, e.code])).toEqual([
      ['w1', 400],
      ['w2', 400],
      ['w3', 400],
      ['w4', 400],
      ['w5', 400],
    ]);
  });
});

describe('visibility', () => {
  it('visibility - hiding sends one OFFLINE without last_seen, then nothing; queries say OFFLINE 0; showing sends the state', async () => {
    await befriend();
    const b = await online(B, 'phone');
    const aPhone = await online(A, 'phone');
    const aLaptop = await online(A, 'laptop');
    await nextAbout(b, A);

    const echo = await aPhone.setVisibility(false);
    expect(echo.type).toBe(2);
    const laptopEcho = await aLaptop.visibility.next();
    expect(laptopEcho.value).toMatchObject({ type: 2 });
    expect(await nextAbout(b, A)).toMatchObject({ status: 2, lastSeen: 0 });

    aPhone.setAwareness({ status: 4 });
    expect(await nothingAbout(b, A, 200)).toBe(true);
    expect(await b.queryAwareness(A)).toMatchObject({ status: 2, lastSeen: 0 });

    await aPhone.setVisibility(true);
    expect((await nextAbout(b, A)).status).toBe(4);
  });

  it('visibility - the setting survives a restart', async () => {
    await befriend();
    const a = await online(A, 'phone');
    await a.setVisibility(false);
    await h.restart();
    await online(A, 'phone');
    const b = await online(B, 'phone');
    expect(await b.queryAwareness(A)).toMatchObject({ status: 2, lastSeen: 0 });
    expect((await b.awarenessSnapshot).awarenessList).toEqual([expect.objectContaining({ status: 2, lastSeen: 0 })]);
  });
});
