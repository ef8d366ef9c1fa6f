/**
 * The push outbox: notices waiting to be POSTed, in their own SQLite file so that push traffic
 * never contends with the message store's writer. Same durability as the store (WAL +
 * synchronous=FULL): a notice accepted by `enqueue` survives a crash or restart (SPEC §6 F9).
 * Synchronous, so it runs only on the outbox worker thread (outbox-worker.ts), never on the
 * event loop (issue #7: one fsync per notice on the main thread stalled every connection).
 */
import Database from 'better-sqlite3';
import type { PushOutboxRow } from '../core/push-outbox.js';

const MIGRATIONS: string[] = [
  `
  -- One row per notice not yet delivered. id is the delivery id (X-Bimip-Delivery); AUTOINCREMENT
  -- so an id is never reused, even after the newest row is deleted.
  CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    body            TEXT    NOT NULL,
    enqueued_at     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
  `,
];

/** A notice waiting for delivery (the port's row type). */
export type OutboxRow = PushOutboxRow;

interface RawRow {
  id: number;
  body: string;
  enqueued_at: number;
  attempts: number;
  next_attempt_at: number;
}

/** Synchronous access to the outbox file; every write is one durable transaction (one fsync). */
export class SqliteOutboxFile {
  private readonly insertRow: Database.Statement<[string, number, number]>;
  private readonly selectDue: Database.Statement<[number, number], RawRow>;
  private readonly selectNextAfter: Database.Statement<[number], { at: number | null }>;
  private readonly deleteRow: Database.Statement<[number]>;
  private readonly updateRow: Database.Statement<[number, number, number, number]>;
  private readonly countRows: Database.Statement<[], { n: number }>;

  private constructor(private readonly db: Database.Database) {
    this.insertRow = db.prepare('INSERT INTO outbox (body, enqueued_at, next_attempt_at) VALUES (?, ?, ?)');
    this.selectDue = db.prepare<[number, number], RawRow>(
      'SELECT id, body, enqueued_at, attempts, next_attempt_at FROM outbox WHERE next_attempt_at <= ? ORDER BY id LIMIT ?',
    );
    this.selectNextAfter = db.prepare<[number], { at: number | null }>('SELECT MIN(next_attempt_at) AS at FROM outbox WHERE next_attempt_at > ?');
    this.deleteRow = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.updateRow = db.prepare('UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_status = ? WHERE id = ?');
    this.countRows = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox');
  }

  /** Opens (creating if needed) the outbox file at `path`. */
  static open(path: string): SqliteOutboxFile {
    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      // FULL: once notify() returns, the notice is on disk (SPEC §6 F9 "notices survive a restart").
      db.pragma('synchronous = FULL');
      migrate(db);
      return new SqliteOutboxFile(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Stores a notice due at `now`; returns its delivery id. */
  enqueue(body: string, now: number): number {
    return Number(this.insertRow.run(body, now, now).lastInsertRowid);
  }

  /** Stores notices due at `now` in one transaction (one fsync); returns their ids, in order. */
  enqueueMany(bodies: readonly string[], now: number): number[] {
    return this.db.transaction(() => bodies.map((body) => this.enqueue(body, now)))();
  }

  /** Up to `limit` rows due at `now`, oldest (lowest id) first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.selectDue.all(now, limit).map((row) => ({
      id: row.id,
      body: row.body,
      enqueuedAt: row.enqueued_at,
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at,
    }));
  }

  /** The earliest next_attempt_at strictly after `now`, if any row is waiting. */
  nextAttemptAfter(now: number): number | undefined {
    return this.selectNextAfter.get(now)?.at ?? undefined;
  }

  /** Removes a row (delivered or given up); true if it existed. */
  remove(id: number): boolean {
    return this.deleteRow.run(id).changes > 0;
  }

  /** Records a failed attempt and when to try again. */
  reschedule(id: number, attempts: number, nextAttemptAt: number, lastStatus: number): void {
    this.updateRow.run(attempts, nextAttemptAt, lastStatus, id);
  }

  count(): number {
    return this.countRows.get()?.n ?? 0;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
