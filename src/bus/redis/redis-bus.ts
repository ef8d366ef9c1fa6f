/**
 * RedisBus: the Bus of cluster mode (SPEC §11) over Redis pub/sub. It receives two ready ioredis
 * clients and opens none: `publisher` (normal mode; may be shared with the presence store) and
 * `subscriber` (this bus puts it in subscriber mode; its own). Channels: `<prefix>bus:<db>:u:<eid>`
 * per user and `<prefix>bus:<db>:all` for broadcasts — Redis pub/sub ignores the db index, so it is
 * written into the channel name, letting the db index separate deployments as SPEC §11 promises.
 * Payloads: cluster-message-codec.ts (binary; the sender's node id inside, so a node drops its own).
 *
 * Redis down (the Bus contract: at most once, `publish` rejects when the message was not handed over):
 * - `publish` rejects at once while the publisher is not ready, and when `maxPendingPublishes` are
 *   already awaiting Redis's reply: nothing is queued without bound. Create the publisher with
 *   REDIS_BUS_PUBLISHER_OPTIONS (no offline queue; in-flight commands fail when the connection
 *   drops instead of being resent after a reconnect).
 * - `subscribe` rejects at once while the subscriber is not ready (the router logs it and the periodic
 *   head re-read covers the user), and the channel is subscribed when the subscriber is ready again.
 * - After a reconnect every subscribed channel is subscribed again by ioredis (`autoResubscribe`, its
 *   default; test/contract/redis-bus.contract.test.ts kills the connection to prove it). Messages
 *   published while the subscriber was away are lost: Redis pub/sub keeps nothing.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Bus, BusTopic, ClusterMessage } from '../../core/bus.js';
import type { Logger } from '../../core/logger.js';
import type { Eid } from '../../core/types.js';
import { decodeClusterMessage, encodeClusterMessage } from './cluster-message-codec.js';

/** ioredis options for the publisher: fail, never queue, while Redis is unreachable. */
// enableAutoPipelining: the publishes of one event-loop turn (a group commit's notices) leave in one
// write instead of one syscall each (bench --cluster: a third of node 1's CPU went to PUBLISH writes).
export const REDIS_BUS_PUBLISHER_OPTIONS = { enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true } as const satisfies RedisOptions;
/** ioredis options for the subscriber: resubscribe after reconnects; no queue while down. */
export const REDIS_BUS_SUBSCRIBER_OPTIONS = { autoResubscribe: true, enableOfflineQueue: false } as const satisfies RedisOptions;

export interface RedisBusOptions {
  nodeId: string;
  publisher: Redis;
  /** Used by this bus only: it enters subscriber mode. */
  subscriber: Redis;
  /** Deployment prefix (SPEC §11 `BIMIP_REDIS_PREFIX`), e.g. 'bimip:'. */
  prefix: string;
  logger: Logger;
  /** Publishes awaiting Redis's reply before `publish` rejects (default 10,000). */
  maxPendingPublishes?: number;
}

type Listener = (message: ClusterMessage) => void;

export class RedisBus implements Bus {
  readonly nodeId: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly logger: Logger;
  private readonly channelPrefix: string;
  private readonly broadcastChannel: string;
  private readonly maxPending: number;
  private pending = 0;
  private listener: Listener | undefined;
  /** Channels to resubscribe / unsubscribe once the subscriber is ready again (their command failed). */
  private readonly retrySubscribe = new Set<string>();
  private readonly retryUnsubscribe = new Set<string>();
  private readonly users = new Set<Eid>();
  private closed = false;
  private readonly onPayload = (channel: Buffer, payload: Buffer): void => this.receive(channel, payload);
  private readonly onReady = (): void => void this.reconcile();

  private constructor(options: RedisBusOptions) {
    const db = options.subscriber.options.db ?? 0;
    if ((options.publisher.options.db ?? 0) !== db) throw new Error('RedisBus: publisher and subscriber must use the same db');
    if (options.subscriber.options.autoResubscribe === false)
      throw new Error('RedisBus: the subscriber needs autoResubscribe (channels are lost on reconnect otherwise)');
    this.nodeId = options.nodeId;
    this.publisher = options.publisher;
    this.subscriber = options.subscriber;
    this.logger = options.logger;
    this.maxPending = options.maxPendingPublishes ?? 10_000;
    this.channelPrefix = `${options.prefix}bus:${db}:`;
    this.broadcastChannel = `${this.channelPrefix}all`;
    this.subscriber.on('messageBuffer', this.onPayload);
    this.subscriber.on('ready', this.onReady);
  }

  /** A bus subscribed to broadcasts (resolves once Redis confirmed). */
  static async start(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    try {
      await bus.subscriber.subscribe(bus.broadcastChannel);
    } catch (err) {
      await bus.close();
      throw err;
    }
    return bus;
  }

  async publish(topic: BusTopic, message: ClusterMessage): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    if (this.publisher.status !== 'ready') throw new Error(`redis bus: publisher ${this.publisher.status}`);
    if (this.pending >= this.maxPending) throw new Error(`redis bus: ${this.pending} publishes awaiting Redis`);
    const channel = topic === 'broadcast' ? this.broadcastChannel : this.userChannel(topic.user);
    this.pending++;
    try {
      await this.publisher.publish(channel, encodeClusterMessage(this.nodeId, message));
    } finally {
      this.pending--;
    }
  }

  async subscribe(eid: Eid): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const channel = this.userChannel(eid);
    this.users.add(eid);
    this.retryUnsubscribe.delete(channel);
    try {
      if (this.subscriber.status !== 'ready') throw new Error(`redis bus: subscriber ${this.subscriber.status}`);
      await this.subscriber.subscribe(channel);
    } catch (err) {
      if (this.users.has(eid)) this.retrySubscribe.add(channel);
      throw err;
    }
  }

  async unsubscribe(eid: Eid): Promise<void> {
    const channel = this.userChannel(eid);
    this.users.delete(eid);
    this.retrySubscribe.delete(channel);
    if (this.closed) return;
    try {
      if (this.subscriber.status !== 'ready') throw new Error(`redis bus: subscriber ${this.subscriber.status}`);
      await this.subscriber.unsubscribe(channel);
    } catch (err) {
      // ioredis would resubscribe it after a reconnect: undone once the subscriber is ready.
      if (!this.users.has(eid)) this.retryUnsubscribe.add(channel);
      throw err;
    }
  }

  onMessage(listener: Listener): void {
    this.listener = listener;
  }

  /** Stops receiving and leaves the clients to their owner (they stay open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriber.off('messageBuffer', this.onPayload);
    this.subscriber.off('ready', this.onReady);
    const channels = [this.broadcastChannel, ...[...this.users].map((eid) => this.userChannel(eid))];
    this.users.clear();
    if (this.subscriber.status === 'ready') await this.subscriber.unsubscribe(...channels).catch(() => undefined);
  }

  private userChannel(eid: Eid): string {
    return `${this.channelPrefix}u:${eid}`;
  }

  private receive(channel: Buffer, payload: Buffer): void {
    if (this.closed || !this.listener) return;
    let decoded: ReturnType<typeof decodeClusterMessage>;
    try {
      decoded = decodeClusterMessage(payload);
    } catch (err) {
      this.logger.warn({ err, channel: channel.toString() }, 'redis bus: unreadable message dropped');
      return;
    }
    if (decoded.nodeId === this.nodeId) return; // local first: the router has delivered it here already
    try {
      this.listener(decoded.message);
    } catch (err) {
      // At most once: a failing listener costs that message only (the store stays the truth).
      this.logger.error({ err, kind: decoded.message.kind }, 'redis bus: listener failed');
    }
  }

  /**
   * After a reconnect: subscribe what failed to subscribe, unsubscribe what failed to unsubscribe.
   * ioredis emits 'ready' on the next tick after writing its own resubscriptions, so an unsubscribe
   * here comes after them and wins.
   */
  private async reconcile(): Promise<void> {
    const subscribe = [...this.retrySubscribe];
    const unsubscribe = [...this.retryUnsubscribe];
    this.retrySubscribe.clear();
    this.retryUnsubscribe.clear();
    try {
      if (subscribe.length > 0) await this.subscriber.subscribe(...subscribe);
      if (unsubscribe.length > 0) await this.subscriber.unsubscribe(...unsubscribe);
    } catch (err) {
      for (const channel of subscribe) this.retrySubscribe.add(channel);
      for (const channel of unsubscribe) this.retryUnsubscribe.add(channel);
      this.logger.warn({ err }, 'redis bus: resubscribe after reconnect failed; retried on the next reconnect');
    }
  }
}
