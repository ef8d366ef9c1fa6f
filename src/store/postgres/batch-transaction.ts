/**
 * One group commit of PostgresMessageStore: every op of the batch in one transaction.
 *
 * Locking (SPEC §5, §11: gap-free offsets, the same whichever node is asked): the queue rows of
 * every user the batch appends to are locked first, FOR UPDATE in eid order (one statement), so
 * two nodes' batches never wait on each other in a cycle; offsets are assigned under those locks
 * and the new heads written before COMMIT, so offset N + 1 of a user never commits before N.
 * Cursor rows come next, also in key order. Idempotency and blocks are checked after the lock on
 * the sender's (and recipient's) queue, so a concurrent append of the same (sender, id) on another
 * node, or a BLOCK there, has committed or not yet started: each statement sees it (READ COMMITTED
 * takes a snapshot per statement).
 *
 * Round trips are what a batch costs, so messages are stored set-based and a batch of messages
 * (whatever its size) takes four: BEGIN with the queue locks and the signal ids (one simple
 * query), the idempotency and block check, one statement writing messages, entries and heads, and
 * COMMIT. Signal ids come from the sequence inside the transaction (a sequence is not
 * transactional: a batch that rolls back leaves a gap, which is fine); the bodies that carry them
 * are built right after. With `isolate`, each op runs in its own SAVEPOINT instead, so one failing
 * op is answered with its error and the others still commit (the store retries a failed batch
 * that way).
 */
import type { PoolClient } from 'pg';
import { EntryKind } from '../../core/types.js';
import { applyContact, applyReceipt, type Sql } from './contact-ops.js';
import { checked, checkSql, literalArray, type Checked, type CheckRow, type Stored } from './message-check.js';
import { connectionLost } from './pg-errors.js';
import { pairKey } from '../shared/write-model.js';
import { queuesOf, type CursorWrite, type MessageOp, type WriteOp, type WriteOutcome } from './write-ops.js';

/** A (sender, id) the batch found stored although it checked under the sender's lock: run it again. */
export class IdempotencyRaceError extends Error {
  constructor() {
    super('a message with the same (sender, id) was stored concurrently');
    this.name = 'IdempotencyRaceError';
  }
}

interface PendingEntry {
  eid: string;
  offset: number;
  kind: number;
  signalId: string;
  author: string;
  target: string;
  body: Uint8Array | null;
  storedAt: number;
}

export class BatchTransaction {
  /** Heads of the locked queues, as assigned so far in this transaction. */
  private heads = new Map<string, number>();
  /** Whether each locked queue has a retained entry (a first_stored_at). */
  private started = new Map<string, boolean>();
  /** New first_stored_at of queues that were empty, and the queues whose head moved, not yet written. */
  private firstAt = new Map<string, number>();
  private moved = new Set<string>();
  private entries: PendingEntry[] = [];
  /** Message rows not yet written (written with the entries, before any op that could read them). */
  private messageRows: Array<[string, string, string, number, string, number, Uint8Array, number]> = [];
  /** The check of every message of the batch, made right after the locks, when no op before them can change its answer. */
  private prechecked: Checked | undefined;
  /** Messages stored earlier in this batch, by (sender, client id): a repeat later in it is a duplicate. */
  private storedHere = new Map<string, Stored>();
  private readonly sql: Sql;

  constructor(
    private readonly client: PoolClient,
    private readonly isolate: boolean,
  ) {
    this.sql = (text, values) => client.query(text, values);
  }

  async run(ops: WriteOp[], cursors: CursorWrite[]): Promise<WriteOutcome[]> {
    await this.begin(ops);
    // Cursors before ops, as in the SQLite writer: a logout's delete in this batch wins over them.
    if (cursors.length > 0) await this.writeCursors(cursors);
    const outcomes: WriteOutcome[] = [];
    for (let i = 0; i < ops.length; ) {
      if (this.isolate) {
        outcomes.push(await this.isolated(ops[i++]!));
        continue;
      }
      let end = i;
      while (end < ops.length && ops[end]!.type === 'message') end++;
      if (end > i) {
        outcomes.push(...(await this.messages(ops.slice(i, end) as MessageOp[])));
        i = end;
      } else outcomes.push(await this.single(ops[i++]!));
    }
    await this.flushEntries();
    const commit = await this.client.query('COMMIT');
    // An aborted transaction answers COMMIT with ROLLBACK instead of an error.
    if (commit.command !== 'COMMIT') throw new Error(`transaction rolled back at commit (${commit.command})`);
    return outcomes;
  }

  /**
   * BEGIN, then the queue rows of every user the batch appends to, locked FOR UPDATE in eid order,
   * and one signal id per message, then (unless a contact op could add a block midway) the check
   * of every message: one simple query, its values inlined as escaped literals (the simple
   * protocol has no parameters; no value holds U+0000, refused earlier). Each statement of it
   * takes its own snapshot, so the check sees every commit made before the locks were granted.
   */
  private async begin(ops: WriteOp[]): Promise<void> {
    const eids = [...new Set(ops.flatMap(queuesOf))];
    const messages = ops.filter((op): op is MessageOp => op.type === 'message');
    if (eids.length === 0 && messages.length === 0) {
      await this.sql('BEGIN');
      return;
    }
    const precheck = messages.length > 0 && !this.isolate && !ops.some((op) => op.type === 'contact');
    const results = (await this.client.query(
      `BEGIN;
       WITH locked AS (
         SELECT eid, head, first_stored_at IS NOT NULL AS started FROM queues
         WHERE eid = ANY(${literalArray(eids)}) ORDER BY eid FOR UPDATE)
       SELECT eid, head::text AS head, started, NULL::text AS id FROM locked
       UNION ALL
       SELECT NULL, NULL, NULL, nextval('signal_ids')::text FROM generate_series(1, ${messages.length});
       ${precheck ? checkSql(messages, literalArray) : ''}`,
    )) as unknown as Array<{ rows: Array<{ eid: string | null; head: string | null; started: boolean | null; id: string | null }> }>;
    if (precheck) this.prechecked = checked(results[2]!.rows as unknown as CheckRow[]);
    const ids: bigint[] = [];
    for (const row of results[1]!.rows) {
      if (row.id !== null) ids.push(BigInt(row.id));
      else {
        this.heads.set(row.eid!, Number(row.head));
        this.started.set(row.eid!, row.started === true);
      }
    }
    // In call order, so a node's signal ids grow with the order of its appends.
    ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    messages.forEach((op, index) => {
      op.signalId = String(ids[index]);
      try {
        op.body = op.message.encodeBody({ signalId: op.signalId, storedAt: op.storedAt });
        op.encodeError = undefined;
      } catch (err) {
        // The caller's encoder failed: that message is answered with its error, the batch goes on.
        op.body = undefined;
        op.encodeError = err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  private async writeCursors(cursors: CursorWrite[]): Promise<void> {
    const sorted = [...cursors].sort((a, b) => compare(a.eid, b.eid) || compare(a.device, b.device));
    await this.client.query({
      name: 'bimip_write_cursors',
      text: `INSERT INTO cursors (eid, device, cursor, seen_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
             ON CONFLICT (eid, device) DO UPDATE SET cursor = GREATEST(cursors.cursor, excluded.cursor), seen_at = GREATEST(cursors.seen_at, excluded.seen_at)`,
      values: [sorted.map((c) => c.eid), sorted.map((c) => c.device), sorted.map((c) => c.cursor), sorted.map((c) => c.seenAt)],
    });
  }

  private async single(op: WriteOp): Promise<WriteOutcome> {
    const append = this.append.bind(this);
    switch (op.type) {
      case 'message':
        return (await this.messages([op]))[0]!;
      case 'receipt':
        // It reads messages: those this batch stored so far must be in the table.
        if (this.messageRows.length > 0) await this.flushEntries();
        return applyReceipt(this.sql, op, (eid, kind, signalId, author, body, storedAt) => append(eid, kind, signalId, author, '', body, storedAt));
      case 'contact':
        return applyContact(this.sql, op, (eid, kind, signalId, author, body, storedAt) => append(eid, kind, signalId, author, '', body, storedAt));
      case 'visibility':
        await this.sql('INSERT INTO user_settings (eid, hidden) VALUES ($1, $2) ON CONFLICT (eid) DO UPDATE SET hidden = excluded.hidden', [op.eid, op.hidden]);
        return { type: 'done' };
      case 'delete-cursors':
        if (op.device === '') await this.sql('DELETE FROM cursors WHERE eid = $1', [op.eid]);
        else await this.sql('DELETE FROM cursors WHERE eid = $1 AND device = $2', [op.eid, op.device]);
        return { type: 'done' };
      case 'probe':
        await this.sql(`INSERT INTO meta (key, value) VALUES ('health_probe', repeat('x', 16384)) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
        await this.sql(`DELETE FROM meta WHERE key = 'health_probe'`);
        return { type: 'done' };
    }
  }

  /** One op in its own savepoint, its entries written inside it; on failure only it is undone. */
  private async isolated(op: WriteOp): Promise<WriteOutcome> {
    const mark = {
      heads: new Map(this.heads),
      started: new Map(this.started),
      firstAt: new Map(this.firstAt),
      moved: new Set(this.moved),
      storedHere: new Map(this.storedHere),
    };
    // Entries and message rows are written inside each savepoint, so none are pending here.
    await this.sql('SAVEPOINT op');
    try {
      const outcome = await this.single(op);
      await this.flushEntries();
      await this.sql('RELEASE SAVEPOINT op');
      return outcome;
    } catch (err) {
      if (connectionLost(err)) throw err;
      await this.sql('ROLLBACK TO SAVEPOINT op');
      Object.assign(this, mark, { entries: [], messageRows: [] });
      return { type: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  /** SPEC §6 F1.2: consecutive messages of the batch, set-based. */
  private async messages(ops: MessageOp[]): Promise<WriteOutcome[]> {
    const key = (op: MessageOp) => pairKey(op.message.senderEid, op.message.clientId);
    let parameter = 0;
    const values: string[][] = [];
    const { existing, blocked } =
      this.prechecked ??
      checked(
        (
          await this.client.query<CheckRow>(
            checkSql(ops, (list) => {
              values.push(list);
              return `$${++parameter}::text[]`;
            }),
            values,
          )
        ).rows,
      );
    const outcomes = ops.map((op): WriteOutcome => {
      const { message, storedAt } = op;
      if (op.encodeError) return { type: 'failed', error: op.encodeError };
      const original = this.storedHere.get(key(op)) ?? existing.get(key(op));
      if (original) return { type: 'message', duplicate: true, ...original, recipientOffset: 0 };
      const self = message.recipientEid === message.senderEid;
      // SPEC §6 F7: checked under the recipient's queue lock, which a BLOCK by them also takes.
      if (!self && blocked.has(pairKey(message.recipientEid, message.senderEid))) return { type: 'blocked' };
      const signalId = op.signalId!;
      // A note to oneself has one entry; its target is the recipient device, if any.
      const senderOffset = this.append(
        message.senderEid,
        EntryKind.Message,
        signalId,
        message.senderDevice,
        self ? message.recipientDevice : '',
        null,
        storedAt,
      );
      // The author device belongs to the sender: in the recipient's queue no device authored it.
      const recipientOffset = self ? 0 : this.append(message.recipientEid, EntryKind.Message, signalId, '', message.recipientDevice, null, storedAt);
      this.messageRows.push([signalId, message.senderEid, message.clientId, senderOffset, message.recipientEid, recipientOffset, op.body!, storedAt]);
      this.storedHere.set(key(op), { signalId, storedAt, senderOffset });
      return { type: 'message', duplicate: false, signalId, storedAt, senderOffset, recipientOffset };
    });
    return outcomes;
  }

  /** Assigns the next offset of a locked queue to a new entry, written by flushEntries. */
  private append(eid: string, kind: number, signalId: string, author: string, target: string, body: Uint8Array | null, storedAt: number): number {
    const head = this.heads.get(eid);
    if (head === undefined) throw new Error('appending to a queue the batch did not lock');
    const offset = head + 1;
    this.heads.set(eid, offset);
    this.moved.add(eid);
    if (!this.started.get(eid)) {
      // SPEC §6 F10: the queue's first retained entry; retention finds the queue by its time.
      this.started.set(eid, true);
      this.firstAt.set(eid, storedAt);
    }
    this.entries.push({ eid, offset, kind, signalId, author, target, body, storedAt });
    return offset;
  }

  /** Writes the message rows, entries and new heads of the batch so far, in one statement. */
  private async flushEntries(): Promise<void> {
    if (this.moved.size === 0 && this.messageRows.length === 0) return;
    const e = this.entries;
    const m = this.messageRows;
    const moved = [...this.moved];
    const written = await this.client.query<{ messages: number }>({
      name: 'bimip_write_batch',
      text: `WITH stored AS (
               INSERT INTO messages (signal_id, sender_eid, client_id, sender_offset, recipient_eid, recipient_offset, body, stored_at)
               SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bytea[], $8::bigint[])
               ON CONFLICT (sender_eid, client_id) DO NOTHING RETURNING 1),
             appended AS (
               INSERT INTO entries (eid, user_offset, kind, signal_id, author_device, target_device, body, stored_at)
               SELECT * FROM unnest($9::text[], $10::bigint[], $11::smallint[], $12::bigint[], $13::text[], $14::text[], $15::bytea[], $16::bigint[])),
             moved AS (
               UPDATE queues q SET head = v.head, first_stored_at = coalesce(q.first_stored_at, v.first_at)
               FROM unnest($17::text[], $18::bigint[], $19::bigint[]) AS v(eid, head, first_at)
               -- ANY: an index scan of the few queue rows, never a join over the whole table.
               WHERE q.eid = ANY($17::text[]) AND q.eid = v.eid)
             SELECT count(*)::int AS messages FROM stored`,
      values: [
        ...[0, 1, 2, 3, 4, 5, 6, 7].map((column) => m.map((row) => row[column])),
        e.map((x) => x.eid),
        e.map((x) => x.offset),
        e.map((x) => x.kind),
        e.map((x) => x.signalId),
        e.map((x) => x.author),
        e.map((x) => x.target),
        e.map((x) => x.body),
        e.map((x) => x.storedAt),
        moved,
        moved.map((eid) => this.heads.get(eid)),
        moved.map((eid) => this.firstAt.get(eid) ?? null),
      ],
    });
    // Impossible while every append of a sender holds the sender's queue lock; if it ever
    // happens, the offsets assigned would leave a gap, so the batch (rolled back) runs again.
    if (written.rows[0]!.messages !== m.length) throw new IdempotencyRaceError();
    this.entries = [];
    this.messageRows = [];
    this.moved.clear();
    this.firstAt.clear();
  }
}

/** Code-unit order: the same on every node, which is all lock ordering needs. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
