/**
 * SPEC §7.1, §7.2, §6 F1 step 3, §2 (shutdown): durability of the REAL server process
 * (`node dist/cli/main.js serve`) under kill -9 and SIGTERM. Every Ack 200 the sender ever saw must
 * survive the crash; resends are idempotent; the receiver's queue is complete, ordered and gap-free.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection, ConnectionClosedError, type MessageEntry } from '../../src/client/index.js';
import { CloseCode, Code, type Ack } from '../../src/protocol/index.js';
import { messagesOf, takeMessages, tempDir } from '../helpers/harness.js';
import { freePort, killProcess, startServerProcess, stopProcess, type ServerProcess } from '../helpers/server-process.js';
import { within } from '../helpers/wait.js';

const SECRET = 'crash-recovery-secret-0123456789';
const issuer = new TokenIssuer(SECRET);
const SENDER = 'crash-a@example.com';
const RECEIVER = 'crash-b@example.com';
const MESSAGES = 50;

let servers: ServerProcess[] = [];
let clients: BimipConnection[] = [];
const dataDirs: string[] = [];

afterEach(async () => {
  await Promise.allSettled(clients.map((client) => within(client.close(), 'client close', 2000)));
  clients = [];
  // Only the PIDs spawned by this file are ever signalled.
  await Promise.allSettled(servers.map((server) => stopProcess(server)));
  servers = [];
});

afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

async function start(port: number, dataDir: string): Promise<ServerProcess> {
  const server = await startServerProcess({ port, dataDir, secret: SECRET });
  servers.push(server);
  return server;
}

async function connect(server: ServerProcess, eid: string, device = 'phone'): Promise<BimipConnection> {
  const token = await issuer.issueAccessToken({ eid, deviceId: device });
  const client = await BimipConnection.connect({ url: server.url, token, connectTimeoutMs: 5000 });
  clients.push(client);
  await within(client.caughtUp, `caught-up marker for ${eid}`);
  return client;
}

const payloadFor = (id: string): Uint8Array => new TextEncoder().encode(`${id}:${'p'.repeat(8 * 1024)}`);
const idsOf = (entries: MessageEntry[]): string[] => entries.map((entry) => entry.message.id);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

interface Volley {
  /** Every Ack 200 the sender saw, by id. */
  acked: Map<string, Ack>;
  /** Acks with any other code. */
  otherAcks: Ack[];
  /** Sends that ended without an Ack (connection lost). */
  lost: string[];
  /** Every send settled. */
  settled: Promise<void>;
}

/**
 * Fires `ids` without awaiting any Ack, one every `spacingMs` (so the sends span several commit
 * batches and a kill lands while some are in flight); `onAck` runs after each Ack 200 is recorded.
 */
function fire(client: BimipConnection, ids: string[], spacingMs: number, onAck: (acked: number) => void): Volley {
  const volley: Omit<Volley, 'settled'> = { acked: new Map(), otherAcks: [], lost: [] };
  const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const sends = ids.map((id, index) =>
    delay(index * spacingMs)
      .then(() => client.send({ id, to: RECEIVER, payload: payloadFor(id) }))
      .then(
        (ack) => {
          if (ack.code === Code.OK) {
            volley.acked.set(id, ack);
            onAck(volley.acked.size);
          } else {
            volley.otherAcks.push(ack);
          }
        },
        (err: unknown) => {
          if (!(err instanceof ConnectionClosedError)) throw err;
          volley.lost.push(id);
        },
      ),
  );
  return { ...volley, settled: Promise.all(sends).then(() => undefined) };
}

/** B's whole queue by Sync replay, checked complete and gap-free: offsets exactly 1..head. */
async function replayAll(client: BimipConnection): Promise<MessageEntry[]> {
  const { entries, response } = await within(client.sync(0, 1000), 'Sync replay');
  const offsets = entries.map((entry) => entry.offset);
  expect(offsets, 'replay offsets are 1..N with no gap and no repeat').toEqual(range(entries.length));
  expect(response.headOffset).toBe(entries.length);
  return messagesOf(entries);
}

describe('crash recovery', () => {
  it('crash recovery - every acked message survives kill -9: resend is 409 with the same signal_id/offset, replay is complete and gap-free', async () => {
    const port = await freePort();
    const dataDir = tempDir('bimip-crash-');
    dataDirs.push(dataDir);
    const first = await start(port, dataDir);
    const receiver = await connect(first, RECEIVER);
    const epochBefore = (await receiver.caughtUp).epoch;
    const sender = await connect(first, SENDER);

    const ids = Array.from({ length: MESSAGES }, (_, i) => `crash-${String(i).padStart(2, '0')}`);
    let killedAfter: number | undefined;
    const volley = fire(sender, ids, 2, (acked) => {
      if (killedAfter === undefined && acked >= 20) {
        killedAfter = acked;
        process.kill(first.pid, 'SIGKILL');
      }
    });
    const exit = await within(first.exited, 'the server to die after SIGKILL', 15_000);
    expect(exit.signal).toBe('SIGKILL');
    await within(volley.settled, 'every send to settle after the crash');
    expect(killedAfter).toBe(20);
    expect(volley.otherAcks).toEqual([]);
    expect(volley.acked.size + volley.lost.length).toBe(MESSAGES);
    const acked = volley.acked;
    expect(acked.size).toBeGreaterThanOrEqual(20);

    // Same data dir, same port.
    const second = await start(port, dataDir);
    const receiverAgain = await connect(second, RECEIVER);
    expect((await receiverAgain.caughtUp).epoch, 'the queue is the same incarnation after a crash').toBe(epochBefore);
    const senderAgain = await connect(second, SENDER);

    // (a) Every acked id is already stored: 409 with the values of the original Ack.
    for (const [id, original] of acked) {
      const again = await within(senderAgain.send({ id, to: RECEIVER, payload: payloadFor(id) }), `resend of ${id}`);
      expect(again, id).toMatchObject({ id, code: Code.Duplicate, signalId: original.signalId, userOffset: original.userOffset });
    }

    // (b) B's replay holds every acked message exactly once, offsets 1..N.
    const replay = await replayAll(receiverAgain);
    const replayIds = idsOf(replay);
    expect(new Set(replayIds).size, 'no message stored twice').toBe(replayIds.length);
    expect(replayIds.every((id) => ids.includes(id))).toBe(true);
    for (const [id, original] of acked) {
      const entry = replay.find((candidate) => candidate.message.id === id);
      expect(entry, `acked ${id} is in B's queue`).toBeDefined();
      expect(entry!.message.signalId).toBe(original.signalId);
      expect(new TextDecoder().decode(entry!.message.payload)).toBe(new TextDecoder().decode(payloadFor(id)));
    }
    // B's device never committed, so on reconnect it was pushed the same entries, in order, once each.
    const pushed = await takeMessages(receiverAgain, replay.length);
    expect(pushed.map((entry) => entry.offset)).toEqual(range(replay.length));
    expect(idsOf(pushed)).toEqual(replayIds);
    // The sender's own queue has each acked message at the offset its Ack named.
    const senderReplay = await replayAll(senderAgain);
    for (const [id, original] of acked) {
      expect(senderReplay[original.userOffset - 1]?.message.id, `A's offset ${original.userOffset}`).toBe(id);
    }

    // Sending the never-acked ids now stores each at most once: B ends with all 50, once each.
    for (const id of volley.lost) {
      const ack = await within(senderAgain.send({ id, to: RECEIVER, payload: payloadFor(id) }), `send of ${id}`);
      expect([Code.OK, Code.Duplicate], id).toContain(ack.code);
    }
    // Audited from a new device of B: it gets no pushes, so its replay is the store's view alone
    // (the SDK files live pushes that arrive during a Sync under the Sync's result as well).
    const auditor = await connect(second, RECEIVER, 'auditor');
    const finalIds = idsOf(await replayAll(auditor));
    expect([...finalIds].sort()).toEqual([...ids].sort());
  }, 60_000);

  it('crash recovery - SIGTERM acks what was accepted, closes connections with 1001 and exits 0; nothing stored goes unacked', async () => {
    const port = await freePort();
    const dataDir = tempDir('bimip-term-');
    dataDirs.push(dataDir);
    const first = await start(port, dataDir);
    const receiver = await connect(first, RECEIVER);
    const sender = await connect(first, SENDER);

    const ids = Array.from({ length: MESSAGES }, (_, i) => `term-${String(i).padStart(2, '0')}`);
    let signalled = false;
    const volley = fire(sender, ids, 2, () => {
      if (!signalled) {
        signalled = true;
        killProcess(first, 'SIGTERM');
      }
    });
    const [senderClosed, receiverClosed, exit] = await within(
      Promise.all([sender.closed, receiver.closed, first.exited]),
      'connections to close and the server to exit after SIGTERM',
      15_000,
    );
    expect(signalled).toBe(true);
    expect(senderClosed.code).toBe(CloseCode.GoingAway);
    expect(receiverClosed.code).toBe(CloseCode.GoingAway);
    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    await within(volley.settled, 'every send to settle after shutdown');
    expect(volley.otherAcks).toEqual([]);
    expect(volley.acked.size).toBeGreaterThanOrEqual(1);

    const second = await start(port, dataDir);
    const receiverAgain = await connect(second, RECEIVER);
    const senderAgain = await connect(second, SENDER);
    // Exactly the acked messages were stored: a graceful stop leaves no stored message unacked.
    const stored = idsOf(await replayAll(receiverAgain));
    expect([...stored].sort()).toEqual([...volley.acked.keys()].sort());
    for (const [id, original] of volley.acked) {
      const again = await within(senderAgain.send({ id, to: RECEIVER, payload: payloadFor(id) }), `resend of ${id}`);
      expect(again, id).toMatchObject({ code: Code.Duplicate, signalId: original.signalId, userOffset: original.userOffset });
    }
  }, 60_000);
});
