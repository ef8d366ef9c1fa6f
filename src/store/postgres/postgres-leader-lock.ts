/**
 * PostgresLeaderLock: a LeaderLock on a session-level PostgreSQL advisory lock
 * (`pg_try_advisory_lock`), held by one dedicated connection taken from the pool for as long as
 * this instance lives. PostgreSQL guarantees one holder; it releases the lock when that session
 * ends, so a node that dies (or loses its connection) frees it for the others. Checked every
 * `checkIntervalMs`: a follower tries to take it, the leader confirms its session still answers.
 * The key includes the schema, so deployments (and tests) sharing a database do not contend.
 */
import type { Pool, PoolClient } from 'pg';
import type { LeaderLock } from '../../core/leader-lock.js';

/** Advisory lock namespace (first key) of leader locks; the second key hashes schema and name. */
const LEADER_LOCK_CLASS = 0x42494d4c; // "BIML"

export interface PostgresLeaderLockOptions {
  /** The pool to take the lock's connection from (kept checked out while this instance lives). */
  pool: Pool;
  /** Which lock: one per kind of background work (e.g. 'retention'). */
  name: string;
  /** How often leadership is re-checked or tried (default 1,000 ms). */
  checkIntervalMs?: number;
  /** Called when this instance becomes or stops being the leader. */
  onChange?: (isLeader: boolean) => void;
}

export class PostgresLeaderLock implements LeaderLock {
  private client: PoolClient | undefined;
  private leader = false;
  private closed = false;
  private running: Promise<boolean> | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly options: PostgresLeaderLockOptions) {
    this.timer = setInterval(() => void this.check(), options.checkIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Creates the lock and tries it once before resolving. */
  static async start(options: PostgresLeaderLockOptions): Promise<PostgresLeaderLock> {
    const lock = new PostgresLeaderLock(options);
    await lock.check();
    return lock;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  check(): Promise<boolean> {
    this.running ??= this.tryOrConfirm().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
    const client = this.client;
    this.client = undefined;
    if (!client) return this.become(false);
    try {
      if (this.leader) await client.query('SELECT pg_advisory_unlock($1, hashtext(current_schema() || $2))', [LEADER_LOCK_CLASS, `/${this.options.name}`]);
      this.release(client);
    } catch (err) {
      // The session is gone, and the lock with it.
      this.release(client, err instanceof Error ? err : new Error(String(err)));
    }
    this.become(false);
  }

  private async tryOrConfirm(): Promise<boolean> {
    if (this.closed) return false;
    try {
      this.client ??= await this.connect();
      const client = this.client;
      if (this.leader) {
        // The session answers, so it still holds the lock (only its end releases it).
        await client.query('SELECT 1');
      } else {
        const result = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_schema() || $2)) AS taken', [
          LEADER_LOCK_CLASS,
          `/${this.options.name}`,
        ]);
        this.become(result.rows[0]?.taken === true);
      }
    } catch (err) {
      this.lost(err);
    }
    // close() may have run meanwhile: a lock taken then is released by close's unlock or session end.
    return this.leader;
  }

  private async connect(): Promise<PoolClient> {
    const client = await this.options.pool.connect();
    // A dead session emits 'error' on its client (unheard, it would crash the node): the lock is gone.
    client.on('error', this.onClientError);
    return client;
  }

  private readonly onClientError = (err: Error): void => this.lost(err);

  private lost(err: unknown): void {
    const client = this.client;
    this.client = undefined;
    if (client) this.release(client, err instanceof Error ? err : new Error(String(err)));
    this.become(false);
  }

  /** Gives the connection back (destroyed when `err` is set) without this lock's listener. */
  private release(client: PoolClient, err?: Error): void {
    client.off('error', this.onClientError);
    // A late error from the destroyed socket must still be heard.
    if (err) client.on('error', () => undefined);
    client.release(err);
  }

  private become(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.options.onChange?.(leader);
  }
}
