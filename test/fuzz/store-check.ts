/**
 * "No change to stored data" (SPEC §7.6) for a fuzz run, on read-only connections to the server's
 * SQLite files (bimip.sqlite, auth.sqlite).
 *
 * Why not one hash of the whole store before and after: unchanged frames and mutated frames that are
 * still valid legitimately store data (a message, a receipt, a contact event, a cursor, a logout's
 * revocation). The design instead splits the users in two:
 *  - protected users: seeded before any fuzz connection exists (messages, a receipt, a mutual
 *    subscription, a block, a hidden setting, cursors, tokens, a revocation), then never connected
 *    again and never named by any fuzz frame template. Their rows — in fact every row that existed
 *    before the fuzz — must be byte-identical afterwards: `protectedBefore === protectedAfter`.
 *    A mutation cannot conjure a protected eid (it would have to write an exact 40-byte string), so
 *    any change there is a bug, never legitimate traffic.
 *  - actors: the users the fuzz connections authenticated as. New rows are allowed only where an
 *    actor could legitimately have written them: messages whose sender is an actor (and whose stored
 *    `from` is that sender: SPEC §7.5), receipts of messages an actor received, cursors, blocks,
 *    visibility and tokens of actors, subscriptions with an actor on one side, revocations of actors'
 *    own token ids; and no new row anywhere mentions a protected user.
 * Queues must also stay gap-free (SPEC §5: offsets 1, 2, 3… per user; no retention runs in a fuzz).
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pb } from '../../src/protocol/index.js';

const FILES = ['bimip.sqlite', 'auth.sqlite'] as const;

type Row = Record<string, unknown>;

/** Every row of every table at one moment, by file, table and primary key. */
export interface StoreSnapshot {
  rows: Map<string, string>;
  /** sha256 over all rows (the whole store). */
  digest: string;
}

export interface StoreVerdict {
  /** sha256 of the rows that existed before the fuzz, as they were then… */
  protectedBefore: string;
  /** …and as they are now (missing rows hash as missing). */
  protectedAfter: string;
  allBefore: string;
  allAfter: string;
  /** Counts of rows added per table. */
  added: Record<string, number>;
  /** Empty when the store is as it must be; otherwise the first problems found. */
  problems: string[];
}

export interface Actors {
  /** eids the fuzz (and witness) connections authenticated as. */
  eids: ReadonlySet<string>;
  /** jtis of the access tokens issued to them. */
  jtis: ReadonlySet<string>;
}

function open(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
}

function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'bigint') return `${value}n`;
  return value;
}

function tablesOf(db: Database.Database): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
}

function keyColumns(db: Database.Database, table: string): string[] {
  const info = db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string; pk: number }>;
  const pk = info
    .filter((column) => column.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((column) => column.name);
  return pk.length > 0 ? pk : ['rowid'];
}

/** Visits every row of every table of every file inside one read transaction per file. */
function visit(
  dataDir: string,
  onRow: (file: string, table: string, key: string, row: Row, text: string) => void,
  onFile?: (file: string, db: Database.Database) => void,
): void {
  for (const file of FILES) {
    const path = join(dataDir, file);
    if (!existsSync(path)) continue;
    const db = open(path);
    try {
      db.exec('BEGIN');
      for (const table of tablesOf(db)) {
        const keys = keyColumns(db, table);
        const select = keys[0] === 'rowid' ? `SELECT rowid AS rowid, * FROM "${table}"` : `SELECT * FROM "${table}"`;
        for (const row of db.prepare(select).iterate() as Iterable<Row>) {
          const key = JSON.stringify(keys.map((column) => canonical(row[column])));
          const text = JSON.stringify(Object.entries(row).map(([column, value]) => [column, canonical(value)]));
          onRow(file, table, key, row, text);
        }
      }
      onFile?.(file, db);
      db.exec('COMMIT');
    } finally {
      db.close();
    }
  }
}

export function snapshotStore(dataDir: string): StoreSnapshot {
  const rows = new Map<string, string>();
  const hash = createHash('sha256');
  visit(dataDir, (file, table, key, _row, text) => {
    rows.set(`${file}/${table}/${key}`, text);
    hash.update(`${file}/${table}/${key}=${text}\n`);
  });
  return { rows, digest: hash.digest('hex') };
}

/** sha256 over every row of the store, without keeping the rows. */
export function storeDigest(dataDir: string): string {
  const hash = createHash('sha256');
  visit(dataDir, (file, table, key, _row, text) => hash.update(`${file}/${table}/${key}=${text}\n`));
  return hash.digest('hex');
}

/** Waits (bounded) until the store's digest is the same twice in a row a moment apart: writes still in flight have landed. */
export async function waitForQuietStore(dataDir: string, timeoutMs = 5000): Promise<void> {
  let previous = storeDigest(dataDir);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const current = storeDigest(dataDir);
    if (current === previous) return;
    previous = current;
  }
}

/** A snapshot once in-flight writes have landed. */
export async function settledSnapshot(dataDir: string, timeoutMs = 5000): Promise<StoreSnapshot> {
  await waitForQuietStore(dataDir, timeoutMs);
  return snapshotStore(dataDir);
}

function digestOf(entries: Iterable<[string, string]>): string {
  const hash = createHash('sha256');
  for (const [key, text] of entries) hash.update(`${key}=${text}\n`);
  return hash.digest('hex');
}

/** Rules for rows added during the fuzz (see the file comment); `messages` maps signal_id → [sender, recipient]. */
function attributionProblem(table: string, row: Row, actors: Actors, messages: Map<number, [string, string]>, actorJtis: Set<string>): string | undefined {
  const isActor = (value: unknown): boolean => typeof value === 'string' && actors.eids.has(value);
  switch (table) {
    case 'messages': {
      if (!isActor(row['sender_eid'])) return `message ${String(row['signal_id'])} stored with sender ${String(row['sender_eid'])}, not an authenticated actor`;
      try {
        const stored = pb.Message.decode(row['body'] as Uint8Array);
        if (stored.from?.eid !== row['sender_eid'])
          return `message ${String(row['signal_id'])} stored with from.eid ${String(stored.from?.eid)} ≠ sender ${String(row['sender_eid'])}`;
      } catch (err) {
        return `message ${String(row['signal_id'])} has a body that does not decode: ${(err as Error).message}`;
      }
      return undefined;
    }
    case 'receipts': {
      const message = messages.get(Number(row['signal_id']));
      if (!message) return `receipt for unknown message ${String(row['signal_id'])}`;
      return isActor(message[1])
        ? undefined
        : `receipt (status ${String(row['status'])}) stored for message ${String(row['signal_id'])} whose recipient ${message[1]} is not an actor`;
    }
    case 'cursors':
    case 'user_settings':
    case 'refresh_tokens':
    case 'access_tokens':
    case 'revoked_before':
      return isActor(row['eid']) ? undefined : `${table} row for ${String(row['eid'])}, not an actor`;
    case 'blocks':
      return isActor(row['blocker']) ? undefined : `block by ${String(row['blocker'])}, not an actor`;
    case 'subscriptions':
      return isActor(row['subscriber']) || isActor(row['target'])
        ? undefined
        : `subscription ${String(row['subscriber'])} → ${String(row['target'])} with no actor`;
    case 'revoked_jtis':
      return actorJtis.has(String(row['jti'])) ? undefined : `revoked jti ${String(row['jti'])} is not a token of an actor`;
    default:
      return undefined;
  }
}

/**
 * Compares the store now with `baseline` (taken before any fuzz connection). `protectedEids` must
 * not appear in any added row; `actors` bounds who may have added rows.
 */
export function checkStore(dataDir: string, baseline: StoreSnapshot, protectedEids: readonly string[], actors: Actors): StoreVerdict {
  const problems: string[] = [];
  const report = (problem: string): void => {
    if (problems.length < 20) problems.push(problem);
  };
  const after = new Map<string, string>();
  const added: Record<string, number> = {};
  const allHash = createHash('sha256');
  const messages = new Map<number, [string, string]>();
  const actorJtis = new Set(actors.jtis);
  visit(
    dataDir,
    (file, table, key, row, text) => {
      const id = `${file}/${table}/${key}`;
      allHash.update(`${id}=${text}\n`);
      if (table === 'messages') messages.set(Number(row['signal_id']), [String(row['sender_eid']), String(row['recipient_eid'])]);
      if (table === 'access_tokens' && actors.eids.has(String(row['eid']))) actorJtis.add(String(row['jti']));
      if (baseline.rows.has(id)) {
        after.set(id, text);
        return;
      }
      added[table] = (added[table] ?? 0) + 1;
      for (const value of Object.values(row)) {
        if (typeof value === 'string' && protectedEids.includes(value)) report(`added ${table} row mentions protected user ${value}: ${text.slice(0, 300)}`);
      }
      // Tables are visited in name order, so `messages` is complete before `receipts`, and
      // `access_tokens` before `revoked_jtis`.
      const problem = attributionProblem(table, row, actors, messages, actorJtis);
      if (problem) report(problem);
    },
    (file, db) => {
      if (file !== 'bimip.sqlite') return;
      try {
        const gaps = db
          .prepare('SELECT eid, min(user_offset) AS lo, max(user_offset) AS hi, count(*) AS n FROM entries GROUP BY eid HAVING lo <> 1 OR hi <> n LIMIT 5')
          .all() as Array<{ eid: string; lo: number; hi: number; n: number }>;
        for (const gap of gaps) report(`queue of ${gap.eid} is not gap-free: offsets ${gap.lo}..${gap.hi} in ${gap.n} entries`);
      } catch (err) {
        report(`could not check queue offsets: ${(err as Error).message}`);
      }
    },
  );
  const afterProtected: Array<[string, string]> = [];
  for (const [id, text] of baseline.rows) {
    const now = after.get(id) ?? 'MISSING';
    if (now !== text) report(`row changed: ${id}\n  before ${text.slice(0, 300)}\n  after  ${now.slice(0, 300)}`);
    afterProtected.push([id, now]);
  }
  return {
    protectedBefore: digestOf(baseline.rows),
    protectedAfter: digestOf(afterProtected),
    allBefore: baseline.digest,
    allAfter: allHash.digest('hex'),
    added,
    problems,
  };
}
