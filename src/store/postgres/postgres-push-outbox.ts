/**
 * PostgresPushOutbox: the push outbox of cluster mode (SPEC §11: the push outbox lives in
 * PostgreSQL; issue #8), one table every node shares, implementing the PushOutbox port
 * (core/push-outbox.ts; its doc comment has the contract and the departure from "written in the
 * append transaction").
 *
 * Every node polls; `poll` claims rows with `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`),
 * so concurrent pollers take disjoint rows without waiting on each other, and a row whose node died
 * mid-POST is due again once its lease lapses. That also satisfies SPEC §11 "background work runs
 * once across the cluster" without a leader lock: each notice is worked on by one node at a time.
 * Ids come from a BIGSERIAL: unique cluster-wide, never reused.
 */
import type { Pool } from 'pg';
import { StoreUnavailableError } from '../../core/errors.js';
import type { PushOutbox, PushOutboxPoll, PushOutboxRow } from '../../core/push-outbox.js';
import { migrate } from './migrate.js';
import { inTransaction } from './pg-client.js';
import { mapped } from './pg-errors.js';

const MIGRATIONS: readonly string[] = [
  `
  -- One row per notice not yet delivered; id is the delivery id (X-Bimip-Delivery). Times are ms
  -- since the epoch from the nodes' clocks. claimed_until: the lease of the node POSTing it.
  CREATE TABLE push_outbox (
    id              bigserial PRIMARY KEY,
    body            text      NOT NULL,
    enqueued_at     bigint    NOT NULL,
    attempts        integer   NOT NULL DEFAULT 0,
    next_attempt_at bigint    NOT NULL,
    claimed_until   bigint    NOT NULL DEFAULT 0,
    last_status     integer   NOT NULL DEFAULT 0
  );
  CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at, id);
  CREATE INDEX push_outbox_claims ON push_outbox (claimed_until) WHERE claimed_until > 0;
  `,
];

export interface PostgresPushOutboxOptions {
  /** A ready pool; the outbox never ends it. */
  pool: Pool;
  /** Schema to create if missing; it must be first on the pool connections' search_path. */
  schema?: string;
  /** How long a polled row stays claimed without `remove` or `reschedule`; default 30000 ms. */
  leaseMs?: number;
}

interface RawRow {
  id: string;
  body: string;
  enqueued_at: string;
  attempts: number;
  next_attempt_at: string;
}

export class PostgresPushOutbox implements PushOutbox {
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly leaseMs: number,
    readonly pendingAtOpen: number,
  ) {}

  /** Migrates the schema (safe when several nodes start at once) and opens the outbox. */
  static async open(options: PostgresPushOutboxOptions): Promise<PostgresPushOutbox> {
    const leaseMs = options.leaseMs ?? 30_000;
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new Error('push outbox: leaseMs must be a positive integer');
    await migrate(options.pool, 'push-outbox', MIGRATIONS, { schema: options.schema });
    const counted = await mapped('counting the push outbox', () => options.pool.query<{ n: string }>('SELECT count(*) AS n FROM push_outbox'));
    return new PostgresPushOutbox(options.pool, leaseMs, Number(counted.rows[0]?.n ?? 0));
  }

  /** One INSERT in one transaction, committed with synchronous_commit on (durable once it resolves). */
  async enqueue(bodies: string[], now: number): Promise<number[]> {
    this.assertOpen();
    if (bodies.length === 0) return [];
    const inserted = await inTransaction(this.pool, 'storing push notices', async (client) => {
      // Whatever the role or session says: a notice acknowledged to the hook must survive a crash.
      await client.query('SET LOCAL synchronous_commit = on');
      return client.query<{ id: string }>(
        `INSERT INTO push_outbox (body, enqueued_at, next_attempt_at)
         SELECT body, $2, $2 FROM unnest($1::text[]) WITH ORDINALITY AS batch(body, n) ORDER BY n
         RETURNING id`,
        [bodies, now],
      );
    });
    // The ORDER BY draws ids from the sequence in the bodies' order; RETURNING's order is not promised.
    return inserted.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
  }

  async poll(now: number, limit: number): Promise<PushOutboxPoll> {
    this.assertOpen();
    const claimed =
      limit < 1
        ? []
        : (
            await mapped('claiming push notices', () =>
              this.pool.query<RawRow>(
                // Read committed: a row another poller claimed meanwhile is re-checked against
                // claimed_until once its lock is taken; a row still locked is skipped.
                `UPDATE push_outbox SET claimed_until = $1::bigint + $3::bigint
                 WHERE id IN (SELECT id FROM push_outbox
                              WHERE next_attempt_at <= $1 AND claimed_until <= $1
                              ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING id, body, enqueued_at, attempts, next_attempt_at`,
                [now, limit, this.leaseMs],
              ),
            )
          ).rows;
    // May be early (a retry under a lease), never late: a spurious wake-up costs one poll.
    const next = await mapped('reading the next push attempt', () =>
      this.pool.query<{ at: string | null }>(
        `SELECT LEAST((SELECT min(next_attempt_at) FROM push_outbox WHERE next_attempt_at > $1),
                      (SELECT min(claimed_until) FROM push_outbox WHERE claimed_until > $1)) AS at`,
        [now],
      ),
    );
    const at = next.rows[0]?.at ?? null;
    return { due: claimed.map(toRow).sort((a, b) => a.id - b.id), nextAttemptAt: at === null ? undefined : Number(at) };
  }

  async remove(id: number): Promise<boolean> {
    this.assertOpen();
    const result = await mapped('removing a push notice', () => this.pool.query('DELETE FROM push_outbox WHERE id = $1', [id]));
    return result.rowCount === 1;
  }

  async reschedule(id: number, attempts: number, nextAttemptAt: number, lastStatus: number): Promise<void> {
    this.assertOpen();
    await mapped('rescheduling a push notice', () =>
      this.pool.query('UPDATE push_outbox SET attempts = $2, next_attempt_at = $3, last_status = $4, claimed_until = 0 WHERE id = $1', [
        id,
        attempts,
        nextAttemptAt,
        lastStatus,
      ]),
    );
  }

  /** Refuses further calls; the pool is the caller's. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('push outbox is closed');
  }
}

function toRow(row: RawRow): PushOutboxRow {
  return {
    id: Number(row.id),
    body: row.body,
    enqueuedAt: Number(row.enqueued_at),
    attempts: row.attempts,
    nextAttemptAt: Number(row.next_attempt_at),
  };
}
