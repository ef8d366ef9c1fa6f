/**
 * SqliteMessageStore: the embedded default MessageStore (one SQLite file, WAL, synchronous=FULL).
 *
 * Writes go to a worker thread that owns the write connection (writer-worker.ts). Appends are
 * group-committed: while one transaction is being fsynced, new appends queue up and go together in
 * the next one (at most `maxBatch`), so durability costs one fsync per batch, not per message. With
 * no transaction in flight an append leaves at the end of the current event-loop turn, so a lone
 * message waits for nothing but its own fsync. Reads use a read-only connection on this thread
 * (WAL readers never block the writer).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../../core/errors.js';
import type { MessageStore } from '../../core/message-store.js';
import { EntryKind, type AppendedMessage, type DeviceId, type Eid, type NewMessage, type Offset, type QueueEntry, type QueueInfo } from '../../core/types.js';
import { configureConnection, migrate } from './schema.js';
import type { AppendItem, AppendOutcome, CursorWrite, WriterRequest, WriterResponse } from './writer-protocol.js';

export interface SqliteMessageStoreOptions {
  /** Path of the database file. */
  path: string;
  /** Most appends in one transaction (default 512). */
  maxBatch?: number;
  /** How long a cursor commit may wait for a transaction to ride on before one is forced (default 100 ms). */
  cursorFlushMs?: number;
  now?: () => number;
  /** Called after each durable transaction with its number of appends and its duration. */
  onCommit?: (appends: number, seconds: number) => void;
}

interface PendingAppend {
  item: AppendItem;
  message: NewMessage;
  resolve(value: AppendedMessage): void;
  reject(error: Error): void;
}

interface EntryRow {
  user_offset: number;
  kind: number;
  signal_id: number;
  author_device: string;
  target_device: string;
  stored_at: number;
  body: Uint8Array;
}

export class SqliteMessageStore implements MessageStore {
  private readonly reader: Database.Database;
  private readonly worker: Worker;
  private readonly maxBatch: number;
  private readonly cursorFlushMs: number;
  private readonly now: () => number;
  private readonly instanceId: string;
  private nextSignalId: number;
  private queued: PendingAppend[] = [];
  private dirtyCursors = new Map<string, CursorWrite>();
  /** Cursor values written by the batch in flight, still visible to getCursor until it lands. */
  private inFlightCursors = new Map<string, CursorWrite>();
  private inFlight: { id: number; appends: PendingAppend[]; startedAt: bigint } | undefined;
  private flushScheduled = false;
  private cursorTimer: NodeJS.Timeout | undefined;
  private requestId = 0;
  private failure: Error | undefined;
  private closing: { id: number; resolve(): void } | undefined;
  private readonly readEntriesStatement: Database.Statement;
  private readonly headStatement: Database.Statement;
  private readonly firstStatement: Database.Statement;
  private readonly cursorStatement: Database.Statement;

  private constructor(private readonly options: SqliteMessageStoreOptions, reader: Database.Database, worker: Worker) {
    this.reader = reader;
    this.worker = worker;
    this.maxBatch = options.maxBatch ?? 512;
    this.cursorFlushMs = options.cursorFlushMs ?? 100;
    this.now = options.now ?? Date.now;
    this.instanceId = reader.prepare("SELECT value FROM meta WHERE key = 'instance_id'").pluck().get() as string;
    this.nextSignalId = ((reader.prepare('SELECT max(signal_id) FROM messages').pluck().get() as number | null) ?? 0) + 1;
    this.readEntriesStatement = reader.prepare(
      `SELECT e.user_offset, e.kind, e.signal_id, e.author_device, e.target_device, e.stored_at,
              coalesce(e.body, m.body) AS body
       FROM entries e LEFT JOIN messages m ON e.kind = ${EntryKind.Message} AND m.signal_id = e.signal_id
       WHERE e.eid = ? AND e.user_offset > ? ORDER BY e.user_offset LIMIT ?`,
    );
    this.headStatement = reader.prepare('SELECT max(user_offset) FROM entries WHERE eid = ?').pluck();
    this.firstStatement = reader.prepare('SELECT min(user_offset) FROM entries WHERE eid = ?').pluck();
    this.cursorStatement = reader.prepare('SELECT cursor FROM cursors WHERE eid = ? AND device = ?').pluck();
    worker.on('message', (response: WriterResponse) => this.onWriterResponse(response));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`SQLite writer exited with code ${code}`)));
  }

  /** Opens (creating and migrating if needed) the database at `options.path`. */
  static async open(options: SqliteMessageStoreOptions): Promise<SqliteMessageStore> {
    mkdirSync(dirname(options.path), { recursive: true });
    // Migrate on this thread first so the reader sees the schema; the worker's migrate is then a no-op.
    const setup = new Database(options.path);
    configureConnection(setup, 'writer');
    migrate(setup);
    setup.close();
    const reader = new Database(options.path, { readonly: true });
    configureConnection(reader, 'reader');
    const worker = startWriter(options.path);
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new SqliteMessageStore(options, reader, worker);
  }

  appendMessage(message: NewMessage): Promise<AppendedMessage> {
    if (this.failure) return Promise.reject(new StoreUnavailableError('message store is unavailable', { cause: this.failure }));
    if (this.closing) return Promise.reject(new StoreUnavailableError('message store is closing'));
    const signalId = this.nextSignalId++;
    const storedAt = this.now();
    const item: AppendItem = {
      signalId,
      storedAt,
      senderEid: message.senderEid,
      senderDevice: message.senderDevice,
      clientId: message.clientId,
      recipientEid: message.recipientEid,
      recipientDevice: message.recipientDevice,
      body: message.encodeBody({ signalId: String(signalId), storedAt }),
    };
    return new Promise((resolve, reject) => {
      this.queued.push({ item, message, resolve, reject });
      this.scheduleFlush();
    });
  }

  async readEntries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]> {
    const rows = this.readEntriesStatement.all(eid, afterOffset, limit) as EntryRow[];
    return rows.map((row) => ({
      eid,
      offset: row.user_offset,
      kind: row.kind as EntryKind,
      signalId: String(row.signal_id),
      authorDevice: row.author_device,
      targetDevice: row.target_device,
      body: row.body,
      storedAt: row.stored_at,
    }));
  }

  async queueInfo(eid: Eid): Promise<QueueInfo> {
    const head = (this.headStatement.get(eid) as number | null) ?? 0;
    const first = (this.firstStatement.get(eid) as number | null) ?? head + 1;
    return { head, first, epoch: this.instanceId };
  }

  async getCursor(eid: Eid, device: DeviceId): Promise<Offset | undefined> {
    const stored = this.cursorStatement.get(eid, device) as number | undefined;
    const pending = this.pendingCursor(cursorKey(eid, device));
    if (pending === undefined) return stored;
    return Math.max(pending, stored ?? 0);
  }

  async commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void> {
    const key = cursorKey(eid, device);
    const pending = this.pendingCursor(key);
    // Forward only: a commit at or below one not yet written (or being written) changes nothing.
    if (pending !== undefined && pending >= offset) return;
    this.dirtyCursors.set(key, { eid, device, cursor: offset, seenAt: this.now() });
    // Cursor writes ride along with the next append batch; with no sends, a timer forces one.
    this.cursorTimer ??= setTimeout(() => {
      this.cursorTimer = undefined;
      this.scheduleFlush();
    }, this.cursorFlushMs);
  }

  /** The highest cursor for `key` committed here but not yet known to be on disk. */
  private pendingCursor(key: string): Offset | undefined {
    const dirty = this.dirtyCursors.get(key)?.cursor;
    const inFlight = this.inFlightCursors.get(key)?.cursor;
    if (dirty === undefined) return inFlight;
    return inFlight === undefined ? dirty : Math.max(dirty, inFlight);
  }

  async ping(): Promise<void> {
    if (this.failure) throw new StoreUnavailableError('message store is unavailable', { cause: this.failure });
    this.reader.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    clearTimeout(this.cursorTimer);
    // Drain: everything queued (appends and cursors) is written before the worker closes.
    while (!this.failure && (this.inFlight || this.queued.length > 0 || this.dirtyCursors.size > 0)) {
      if (!this.inFlight) this.flush();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await new Promise<void>((resolve) => {
      this.closing = { id: ++this.requestId, resolve };
      if (this.failure) return resolve();
      this.post({ type: 'close', id: this.closing.id });
    });
    this.reader.close();
    await this.worker.terminate();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight) return;
    this.flushScheduled = true;
    // setImmediate: let every frame read in this turn join the same transaction.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.failure) return;
    if (this.queued.length === 0 && this.dirtyCursors.size === 0) return;
    const appends = this.queued.splice(0, this.maxBatch);
    this.inFlightCursors = this.dirtyCursors;
    this.dirtyCursors = new Map();
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    const id = ++this.requestId;
    this.inFlight = { id, appends, startedAt: process.hrtime.bigint() };
    this.post({ type: 'batch', id, appends: appends.map((pending) => pending.item), cursors: [...this.inFlightCursors.values()] });
  }

  private post(request: WriterRequest): void {
    this.worker.postMessage(request);
  }

  private onWriterResponse(response: WriterResponse): void {
    if (response.type === 'closed') {
      this.closing?.resolve();
      return;
    }
    const batch = this.inFlight;
    if (!batch || batch.id !== response.id) return;
    this.inFlight = undefined;
    this.inFlightCursors = new Map();
    if (response.type === 'failed') {
      const error = new StoreUnavailableError(`commit failed: ${response.error}`);
      for (const pending of batch.appends) pending.reject(error);
    } else {
      if (batch.appends.length > 0) this.options.onCommit?.(batch.appends.length, Number(process.hrtime.bigint() - batch.startedAt) / 1e9);
      response.outcomes.forEach((outcome, index) => {
        const pending = batch.appends[index]!;
        pending.resolve(toAppended(pending, outcome));
      });
    }
    if (this.queued.length > 0) this.flush();
    else if (this.dirtyCursors.size > 0) this.cursorTimer ??= setTimeout(() => { this.cursorTimer = undefined; this.scheduleFlush(); }, this.cursorFlushMs);
  }

  private fail(error: Error): void {
    if (this.failure || this.closing) return;
    this.failure = error;
    const unavailable = new StoreUnavailableError('message store is unavailable', { cause: error });
    for (const pending of this.inFlight?.appends ?? []) pending.reject(unavailable);
    for (const pending of this.queued) pending.reject(unavailable);
    this.inFlight = undefined;
    this.queued = [];
  }
}

function toAppended(pending: PendingAppend, outcome: AppendOutcome): AppendedMessage {
  const signalId = String(outcome.signalId);
  if (outcome.duplicate) {
    return { duplicate: true, signalId, storedAt: outcome.storedAt, senderOffset: outcome.senderOffset, entries: [] };
  }
  const { item } = pending;
  const entry = (eid: Eid, offset: Offset, target: DeviceId): QueueEntry => ({
    eid,
    offset,
    kind: EntryKind.Message,
    signalId,
    // The author is a device of the queue's owner: the sender's device only in the sender's queue.
    authorDevice: eid === item.senderEid ? item.senderDevice : '',
    targetDevice: target,
    body: item.body,
    storedAt: item.storedAt,
  });
  const selfMessage = item.recipientEid === item.senderEid;
  const entries = [entry(item.senderEid, outcome.senderOffset, selfMessage ? item.recipientDevice : '')];
  if (!selfMessage) entries.push(entry(item.recipientEid, outcome.recipientOffset, item.recipientDevice));
  return { duplicate: false, signalId, storedAt: item.storedAt, senderOffset: outcome.senderOffset, entries };
}

function cursorKey(eid: Eid, device: DeviceId): string {
  return `${eid}\u0000${device}`;
}

/**
 * Starts the writer worker from compiled code. When this module itself runs from the TypeScript
 * sources (the test suite), the worker still loads the build in dist/ (`npm test` builds first):
 * Node 20 worker threads cannot load .ts files.
 */
function startWriter(path: string): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const url = new URL(fromSources ? '../../../dist/store/sqlite/writer-worker.js' : './writer-worker.js', import.meta.url);
  if (fromSources && !existsSync(url)) throw new Error(`${url.pathname} is missing: run \`npm run build\` first`);
  return new Worker(url, { workerData: { path } });
}
