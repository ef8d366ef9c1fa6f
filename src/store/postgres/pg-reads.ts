/**
 * The read-only queries of PostgresMessageStore, straight from the pool: each is one statement, so
 * one snapshot, and sees every transaction any node committed before it started (SPEC §11: offsets,
 * heads, blocks and the epoch are the same whichever node is asked). Nothing is cached across
 * calls except the epoch, which never changes.
 */
import type { Pool } from 'pg';
import { Relation } from '../../protocol/index.js';
import { EntryKind, type ContactRelation, type DeviceId, type Eid, type Offset, type QueueEntry, type QueueInfo } from '../../core/types.js';
import { mapped } from './pg-errors.js';
import { SubscriptionState } from './schema.js';

interface EntryRow {
  user_offset: string;
  kind: number;
  signal_id: string;
  author_device: string;
  target_device: string;
  stored_at: string;
  body: Buffer;
}

export class PgReads {
  private constructor(
    private readonly pool: Pool,
    private readonly instanceId: string,
  ) {}

  static async open(pool: Pool): Promise<PgReads> {
    const rows = await mapped('reading the store epoch', () => pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'instance_id'"));
    return new PgReads(pool, rows.rows[0]!.value);
  }

  private async query<R extends Record<string, unknown>>(doing: string, name: string, text: string, values: unknown[]): Promise<R[]> {
    // PostgreSQL text cannot hold U+0000, so no stored row has such a key (and the query would fail).
    if (values.some((value) => typeof value === 'string' && value.includes('\u0000'))) return [];
    return mapped(doing, async () => (await this.pool.query<R>({ name, text, values })).rows);
  }

  async entries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]> {
    const rows = await this.query<EntryRow & Record<string, unknown>>(
      'reading entries',
      'bimip_read_entries',
      `SELECT e.user_offset, e.kind, e.signal_id::text, e.author_device, e.target_device, e.stored_at, coalesce(e.body, m.body) AS body
       FROM entries e LEFT JOIN messages m ON e.kind = ${EntryKind.Message} AND m.signal_id = e.signal_id
       WHERE e.eid = $1 AND e.user_offset > $2 ORDER BY e.user_offset LIMIT $3`,
      [eid, afterOffset, limit],
    );
    return rows.map((row) => ({
      eid,
      offset: Number(row.user_offset),
      kind: row.kind as EntryKind,
      signalId: row.signal_id,
      authorDevice: row.author_device,
      targetDevice: row.target_device,
      body: row.body,
      storedAt: Number(row.stored_at),
    }));
  }

  /** SPEC §6 F10: head from the allocator row (never goes back); first = the smallest retained offset. */
  async queueInfo(eid: Eid): Promise<QueueInfo> {
    const [row] = await this.query<{ head: string | null; first: string | null }>(
      'reading a queue',
      'bimip_queue_info',
      'SELECT (SELECT head FROM queues WHERE eid = $1) AS head, (SELECT min(user_offset) FROM entries WHERE eid = $1) AS first',
      [eid],
    );
    const head = Number(row?.head ?? 0);
    return { head, first: row?.first == null ? head + 1 : Number(row.first), epoch: this.instanceId };
  }

  async cursor(eid: Eid, device: DeviceId): Promise<Offset | undefined> {
    const [row] = await this.query<{ cursor: string }>('reading a cursor', 'bimip_cursor', 'SELECT cursor FROM cursors WHERE eid = $1 AND device = $2', [
      eid,
      device,
    ]);
    return row === undefined ? undefined : Number(row.cursor);
  }

  async devices(eid: Eid): Promise<DeviceId[]> {
    const rows = await this.query<{ device: string }>('reading devices', 'bimip_devices', 'SELECT device FROM cursors WHERE eid = $1 ORDER BY device', [eid]);
    return rows.map((row) => row.device);
  }

  async deviceCount(eid: Eid): Promise<number> {
    const [row] = await this.query<{ n: number }>('counting devices', 'bimip_device_count', 'SELECT count(*)::int AS n FROM cursors WHERE eid = $1', [eid]);
    return row?.n ?? 0;
  }

  async subscribersOf(eid: Eid): Promise<Eid[]> {
    const rows = await this.query<{ eid: string }>(
      'reading subscribers',
      'bimip_subscribers_of',
      `SELECT subscriber AS eid FROM subscriptions WHERE target = $1 AND state = ${SubscriptionState.Active}`,
      [eid],
    );
    return rows.map((row) => row.eid);
  }

  async subscriptionsOf(eid: Eid): Promise<Eid[]> {
    const rows = await this.query<{ eid: string }>(
      'reading subscriptions',
      'bimip_subscriptions_of',
      `SELECT target AS eid FROM subscriptions WHERE subscriber = $1 AND state = ${SubscriptionState.Active}`,
      [eid],
    );
    return rows.map((row) => row.eid);
  }

  async isSubscribed(subscriber: Eid, target: Eid): Promise<boolean> {
    const rows = await this.query(
      'reading a subscription',
      'bimip_is_subscribed',
      `SELECT 1 FROM subscriptions WHERE subscriber = $1 AND target = $2 AND state = ${SubscriptionState.Active}`,
      [subscriber, target],
    );
    return rows.length > 0;
  }

  /** Each other user once, with the strongest relation: blocked, subscribed, pending out, pending in. */
  async contacts(eid: Eid): Promise<ContactRelation[]> {
    const rows = await this.query<{ eid: string; relation: number }>(
      'listing contacts',
      'bimip_contacts',
      `SELECT subscriber AS eid, CASE WHEN state = ${SubscriptionState.Active} THEN ${Relation.SUBSCRIBED} ELSE ${Relation.PENDING_IN} END AS relation FROM subscriptions WHERE target = $1
       UNION ALL
       SELECT target, CASE WHEN state = ${SubscriptionState.Active} THEN ${Relation.SUBSCRIBED} ELSE ${Relation.PENDING_OUT} END FROM subscriptions WHERE subscriber = $1
       UNION ALL
       SELECT blocked, ${Relation.BLOCKED} FROM blocks WHERE blocker = $1`,
      [eid],
    );
    const relations = new Map<Eid, number>();
    for (const row of rows) {
      const current = relations.get(row.eid);
      if (current === undefined || RANK[row.relation]! < RANK[current]!) relations.set(row.eid, row.relation);
    }
    return [...relations].map(([other, relation]) => ({ eid: other, relation })).sort((a, b) => a.eid.localeCompare(b.eid));
  }

  /** One primary-key lookup; never cached, so a block applied on any node counts at once. */
  async isBlocked(blocker: Eid, blocked: Eid): Promise<boolean> {
    const rows = await this.query('reading a block', 'bimip_is_blocked', 'SELECT 1 FROM blocks WHERE blocker = $1 AND blocked = $2', [blocker, blocked]);
    return rows.length > 0;
  }

  async isHidden(eid: Eid): Promise<boolean> {
    const rows = await this.query<{ hidden: boolean }>('reading visibility', 'bimip_is_hidden', 'SELECT hidden FROM user_settings WHERE eid = $1', [eid]);
    return rows[0]?.hidden === true;
  }

  async ping(): Promise<void> {
    await this.query('health check', 'bimip_ping', 'SELECT 1', []);
  }
}

/** Lower is stronger. */
const RANK: Record<number, number> = {
  [Relation.BLOCKED]: 0,
  [Relation.SUBSCRIBED]: 1,
  [Relation.PENDING_OUT]: 2,
  [Relation.PENDING_IN]: 3,
};
