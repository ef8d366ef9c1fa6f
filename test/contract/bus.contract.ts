/**
 * The Bus port contract (src/core/bus.ts), written once and run against every engine over one shared
 * medium with several nodes (centrifuge's shared broker tests, aedes-persistence's abstract suite):
 * memory-bus.contract.test.ts and redis-bus.contract.test.ts. `open` gives a fresh medium; each
 * `connect(nodeId)` is one node's Bus on it; `cleanup` closes what the medium opened and removes what
 * it kept (the suite has closed the buses).
 *
 * "Nothing arrived" is checked after a sentinel: the same publisher sends one more message on a topic
 * the receiver does subscribe and the suite waits for it, then a little longer. Both engines hand a
 * publisher's messages to a subscriber in publish order, so whatever was going to arrive has.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, ClusterMessage } from '../../src/core/bus.js';
import { seededBytes, waitFor } from '../helpers/wait.js';

export interface BusMedium {
  connect(nodeId: string): Promise<Bus>;
  cleanup(): Promise<void>;
}

const SENTINEL_USER = 'sentinel@example.com';

/** What a node received, in order. */
function inbox(bus: Bus): ClusterMessage[] {
  const received: ClusterMessage[] = [];
  bus.onMessage((message) => received.push(message));
  return received;
}

function entries(eid: string, head: number): ClusterMessage {
  return { kind: 'entries', eid, head };
}

export function busContract(name: string, open: () => Promise<BusMedium>): void {
  describe(`Bus contract: ${name}`, () => {
    let medium: BusMedium | undefined;
    const buses: Bus[] = [];

    afterEach(async () => {
      for (const bus of buses.splice(0)) await bus.close().catch(() => undefined);
      await medium?.cleanup();
      medium = undefined;
    });

    async function nodes(count: number): Promise<Bus[]> {
      medium = await open();
      for (let i = 1; i <= count; i++) buses.push(await medium.connect(`node-${i}`));
      return [...buses];
    }

    /** Waits until `from`'s sentinel has reached `to` (which must subscribe SENTINEL_USER), then 50 ms. */
    async function drain(from: Bus, to: ClusterMessage[], tag: number): Promise<void> {
      await from.publish({ user: SENTINEL_USER }, entries(SENTINEL_USER, tag));
      await waitFor(() => to.some((m) => m.kind === 'entries' && m.eid === SENTINEL_USER && m.head === tag), `sentinel ${tag}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    it('bus - a node receives the messages of the user topics it subscribed, and no others', async () => {
      const [a, b] = await nodes(2);
      const atB = inbox(b!);
      await b!.subscribe('u1@example.com');
      await b!.subscribe(SENTINEL_USER);
      await a!.publish({ user: 'u1@example.com' }, entries('u1@example.com', 1));
      await a!.publish({ user: 'u2@example.com' }, entries('u2@example.com', 1));
      await drain(a!, atB, 1);
      expect(atB.filter((m) => m.kind === 'entries' && m.eid !== SENTINEL_USER)).toEqual([entries('u1@example.com', 1)]);
    });

    it('bus - a message published right after subscribe resolved is not missed', async () => {
      const [a, b] = await nodes(2);
      const atB = inbox(b!);
      const users = Array.from({ length: 20 }, (_, i) => `fresh-${i}@example.com`);
      for (const eid of users) {
        await b!.subscribe(eid);
        await a!.publish({ user: eid }, entries(eid, 7));
      }
      await waitFor(() => atB.length === users.length, 'one message per fresh subscription');
      expect(atB).toEqual(users.map((eid) => entries(eid, 7)));
    });

    it('bus - a node does not receive its own messages, on user topics or broadcast', async () => {
      const [a, b] = await nodes(2);
      const atA = inbox(a!);
      const atB = inbox(b!);
      await a!.subscribe('u1@example.com');
      await b!.subscribe('u1@example.com');
      await a!.subscribe(SENTINEL_USER);
      await b!.subscribe(SENTINEL_USER);
      await a!.publish({ user: 'u1@example.com' }, entries('u1@example.com', 5));
      await a!.publish('broadcast', { kind: 'revoked', jtis: ['j1'] });
      await drain(b!, atA, 2);
      await waitFor(() => atB.length === 2, 'both messages at the other node');
      expect(atA.filter((m) => !(m.kind === 'entries' && m.eid === SENTINEL_USER))).toEqual([]);
      expect(atB).toEqual([entries('u1@example.com', 5), { kind: 'revoked', jtis: ['j1'] }]);
    });

    it('bus - a broadcast reaches every other node, subscribed to nothing, exactly once', async () => {
      const [a, b, c] = await nodes(3);
      const atB = inbox(b!);
      const atC = inbox(c!);
      await a!.publish('broadcast', { kind: 'revoked', jtis: ['j1', 'j2'] });
      await waitFor(() => atB.length === 1 && atC.length === 1, 'the broadcast at both other nodes');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(atB).toEqual([{ kind: 'revoked', jtis: ['j1', 'j2'] }]);
      expect(atC).toEqual(atB);
    });

    it('bus - messages of one publisher on one topic arrive in the order published, each once, at every subscribed node', async () => {
      const [a, b, c] = await nodes(3);
      const atB = inbox(b!);
      const atC = inbox(c!);
      await b!.subscribe('u1@example.com');
      await c!.subscribe('u1@example.com');
      const heads = Array.from({ length: 500 }, (_, i) => i + 1);
      await Promise.all(heads.map((head) => a!.publish({ user: 'u1@example.com' }, entries('u1@example.com', head))));
      await waitFor(() => atB.length >= heads.length && atC.length >= heads.length, 'all 500 at both nodes');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const headsAt = (inboxOf: ClusterMessage[]) => inboxOf.map((m) => (m.kind === 'entries' ? m.head : -1));
      expect(headsAt(atB)).toEqual(heads);
      expect(headsAt(atC)).toEqual(heads);
    });

    it('bus - after unsubscribe a node receives nothing more of that topic', async () => {
      const [a, b] = await nodes(2);
      const atB = inbox(b!);
      await b!.subscribe('u1@example.com');
      await b!.subscribe(SENTINEL_USER);
      await a!.publish({ user: 'u1@example.com' }, entries('u1@example.com', 1));
      await waitFor(() => atB.length === 1, 'the message before unsubscribe');
      await b!.unsubscribe('u1@example.com');
      await a!.publish({ user: 'u1@example.com' }, entries('u1@example.com', 2));
      await drain(a!, atB, 3);
      expect(atB.filter((m) => m.kind === 'entries' && m.eid === 'u1@example.com')).toEqual([entries('u1@example.com', 1)]);
    });

    it('bus - a frame message arrives with its bytes and fields intact', async () => {
      const [a, b] = await nodes(2);
      const atB = inbox(b!);
      const eid = 'ünï:cødé@例え.jp';
      await b!.subscribe(eid);
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const frames = [every, seededBytes(8, 64 * 1024), new Uint8Array(0), Uint8Array.of(0, 0, 0)];
      const sent = frames.map(
        (frame, i): ClusterMessage => ({
          kind: 'frame',
          eid,
          device: i % 2 ? 'phone' : '',
          exceptDevice: i % 2 ? '' : 'laptop',
          route: 9 + i,
          transient: i % 2 === 0,
          frame,
        }),
      );
      for (const message of sent) await a!.publish({ user: eid }, message);
      await waitFor(() => atB.length === sent.length, 'every frame message');
      expect(atB.map((m) => ({ ...m, frame: m.kind === 'frame' ? [...m.frame] : undefined }))).toEqual(
        sent.map((m) => ({ ...m, frame: m.kind === 'frame' ? [...m.frame] : undefined })),
      );
      for (const message of atB) expect(message.kind === 'frame' && message.frame instanceof Uint8Array).toBe(true);
    });

    it('bus - every kind of message arrives as published', async () => {
      const [a, b] = await nodes(2);
      const atB = inbox(b!);
      await b!.subscribe('u1@example.com');
      const sent: ClusterMessage[] = [
        entries('u1@example.com', 2 ** 40),
        { kind: 'close', eid: 'u1@example.com', device: 'phone', code: 4009, reason: 'replaced “here”', exceptConnection: 'c-1' },
        { kind: 'claim', eid: 'u1@example.com', device: 'phone', connectionId: 'c-2', generation: 2 ** 40, previousNode: 'n-1', previousConnection: 'c-1' },
        { kind: 'released', eid: 'u1@example.com', device: 'phone', connectionId: 'c-1' },
      ];
      for (const message of sent) await a!.publish({ user: 'u1@example.com' }, message);
      await a!.publish('broadcast', { kind: 'revoked', jtis: [] });
      await waitFor(() => atB.length === sent.length + 1, 'every message');
      expect(atB).toEqual([...sent, { kind: 'revoked', jtis: [] }]);
    });

    it('bus - publish on a closed bus rejects', async () => {
      const [a] = await nodes(1);
      await a!.close();
      await expect(a!.publish('broadcast', { kind: 'revoked', jtis: ['j'] })).rejects.toThrow();
    });
  });
}
