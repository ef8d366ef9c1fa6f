/**
 * SQLite schema and migrations for the embedded store. `PRAGMA user_version` records which
 * migrations ran; each runs once, in order, inside a transaction.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  -- Each message body is stored once; queue entries point at it by signal_id.
  CREATE TABLE messages (
    signal_id     INTEGER PRIMARY KEY,
    sender_eid    TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    sender_offset INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    stored_at     INTEGER NOT NULL
  );
  -- SPEC §6 F1.2: idempotency on (sender eid, client id).
  CREATE UNIQUE INDEX messages_idempotency ON messages (sender_eid, client_id);

  -- One row per entry of a user's queue (SPEC §5). body is NULL for messages (kept in messages).
  CREATE TABLE entries (
    eid           TEXT    NOT NULL,
    user_offset   INTEGER NOT NULL,
    kind          INTEGER NOT NULL,
    signal_id     INTEGER NOT NULL,
    author_device TEXT    NOT NULL,
    target_device TEXT    NOT NULL,
    body          BLOB,
    stored_at     INTEGER NOT NULL,
    PRIMARY KEY (eid, user_offset)
  ) WITHOUT ROWID;

  -- Per-device committed offsets (SPEC §6 F3).
  CREATE TABLE cursors (
    eid       TEXT    NOT NULL,
    device    TEXT    NOT NULL,
    cursor    INTEGER NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (eid, device)
  ) WITHOUT ROWID;
  `,
  `
  -- SPEC §6 F4: receipts need the message's recipient; at most one receipt per (message, status).
  ALTER TABLE messages ADD COLUMN recipient_eid TEXT NOT NULL DEFAULT '';
  CREATE TABLE receipts (
    signal_id INTEGER NOT NULL,
    status    INTEGER NOT NULL,
    PRIMARY KEY (signal_id, status)
  ) WITHOUT ROWID;

  -- SPEC §6 F7: directional subscriptions (state 1 active, 2 pending), blocks, and F6 visibility.
  CREATE TABLE subscriptions (
    subscriber TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    state      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (subscriber, target)
  ) WITHOUT ROWID;
  CREATE INDEX subscriptions_by_target ON subscriptions (target, subscriber);
  CREATE TABLE blocks (
    blocker    TEXT    NOT NULL,
    blocked    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
  ) WITHOUT ROWID;
  CREATE TABLE user_settings (
    eid    TEXT    PRIMARY KEY,
    hidden INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- SPEC §6 F10 retention. When each non-empty queue's first entry was stored: retention finds
  -- the queues holding old entries through the index, and appends write here only when a queue
  -- gets its first entry (an index on entries(stored_at) would cost every append an insert).
  CREATE TABLE queue_starts (
    eid             TEXT    PRIMARY KEY,
    first_stored_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX queue_starts_by_time ON queue_starts (first_stored_at);
  -- SQLite takes the bare stored_at from the row holding min(user_offset).
  INSERT INTO queue_starts (eid, first_stored_at)
    SELECT eid, stored_at FROM (SELECT eid, min(user_offset), stored_at FROM entries GROUP BY eid);
  -- Cursors of devices unseen for the retention period are found through this one.
  CREATE INDEX cursors_by_seen_at ON cursors (seen_at);

  -- The highest offset retention ever removed from each queue it pruned: a queue's head is
  -- max(last entry, pruned_through), so it never goes back, even when pruning empties the queue.
  -- Only retention writes here; appends never do.
  CREATE TABLE queue_floors (
    eid            TEXT    PRIMARY KEY,
    pruned_through INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Where the message's entry in the recipient's queue is (0 for a message to oneself), so
  -- retention can tell with two key lookups whether any entry still refers to a message body.
  ALTER TABLE messages ADD COLUMN recipient_offset INTEGER NOT NULL DEFAULT 0;
  -- Backfill from the stored entries (a temporary index keeps it linear). Rows from before
  -- migration 2 have no recipient_eid: it is the other entry's owner, or the sender for a note
  -- to oneself (the only message with a single entry while nothing was ever pruned).
  CREATE INDEX migration_3_message_entries ON entries (signal_id) WHERE kind = 1;
  UPDATE messages SET
    recipient_offset = coalesce((SELECT e.user_offset FROM entries e
      WHERE e.kind = 1 AND e.signal_id = messages.signal_id AND e.eid <> messages.sender_eid), 0),
    recipient_eid = coalesce(nullif(recipient_eid, ''), (SELECT e.eid FROM entries e
      WHERE e.kind = 1 AND e.signal_id = messages.signal_id AND e.eid <> messages.sender_eid), sender_eid);
  DROP INDEX migration_3_message_entries;
  `,
];

/** meta key: the highest signal_id retention removed, so the sequence never restarts below it (SPEC §6 F10). */
export const PRUNED_SIGNAL_ID_KEY = 'pruned_signal_id';

/** subscriptions.state */
export const SubscriptionState = { Active: 1, Pending: 2 } as const;

/** Opens the pragmas every connection needs; durability comes from WAL + synchronous=FULL. */
export function configureConnection(db: Database.Database, role: 'writer' | 'reader'): void {
  db.pragma('busy_timeout = 5000');
  if (role === 'writer') {
    db.pragma('journal_mode = WAL');
    // FULL: every commit fsyncs the WAL, so an Ack never precedes durability (SPEC §6 F1.3).
    db.pragma('synchronous = FULL');
    // Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB default: many commits rewrite the
    // same leaf pages, so rarer checkpoints copy far less in total and stall far fewer commits
    // (each checkpoint runs inside the commit that crosses the threshold).
    db.pragma('wal_autocheckpoint = 10000');
  }
}

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      if (version === 0) {
        // The store's incarnation: a queue's epoch changes only if this database is lost or replaced.
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('instance_id', randomUUID());
      }
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
