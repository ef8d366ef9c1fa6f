/**
 * PostgresTokenStore: token state of cluster mode (SPEC §11: token revocations live in PostgreSQL),
 * mirroring SqliteTokenStore, plus a RevocationFeed so every node learns revocations within a poll.
 *
 * Revocations are numbered by a one-row counter updated in the revoking transaction: its row lock
 * serializes revocations (rare: a revoke, a logout, a reused refresh token), so their numbers
 * commit in order and a poller that read up to N never misses an N' < N committing later — which
 * a SEQUENCE, taken before commit, would allow.
 */
import type { Pool, PoolClient } from 'pg';
import type { Revocation, RevocationFeed } from '../../core/revocation-feed.js';
import type { AccessTokenRecord, RefreshTokenRecord, RevokedBefore, TokenStore } from '../../core/token-store.js';
import { migrate } from '../postgres/migrate.js';
import { inTransaction } from '../postgres/pg-client.js';
import { mapped } from '../postgres/pg-errors.js';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE refresh_tokens (
    hash       text   COLLATE "C" PRIMARY KEY,
    family     text   COLLATE "C" NOT NULL,
    eid        text   COLLATE "C" NOT NULL,
    device     text   COLLATE "C" NOT NULL,
    issued_at  bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint
  );
  CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
  CREATE INDEX refresh_tokens_user ON refresh_tokens (eid, device);
  CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
  CREATE TABLE access_tokens (
    jti        text   COLLATE "C" PRIMARY KEY,
    family     text   COLLATE "C" NOT NULL,
    eid        text   COLLATE "C" NOT NULL,
    device     text   COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX access_tokens_family ON access_tokens (family);
  CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
  -- seq: the revocation's number (RevocationFeed), moved forward whenever the row changes.
  CREATE TABLE revoked_jtis (
    jti        text   COLLATE "C" PRIMARY KEY,
    expires_at bigint NOT NULL,
    seq        bigint NOT NULL
  );
  CREATE INDEX revoked_jtis_by_seq ON revoked_jtis (seq);
  CREATE INDEX revoked_jtis_expiry ON revoked_jtis (expires_at);
  CREATE TABLE revoked_before (
    eid    text   COLLATE "C" NOT NULL,
    device text   COLLATE "C" NOT NULL,
    before bigint NOT NULL,
    seq    bigint NOT NULL,
    PRIMARY KEY (eid, device)
  );
  CREATE INDEX revoked_before_by_seq ON revoked_before (seq);
  CREATE TABLE revocation_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint  NOT NULL
  );
  INSERT INTO revocation_counter (only_row, seq) VALUES (true, 0);
  `,
];

type RefreshRow = {
  hash: string;
  family: string;
  eid: string;
  device: string;
  issued_at: string;
  expires_at: string;
  used_at: string | null;
};

export interface PostgresTokenStoreOptions {
  /** A ready pool; the store never ends it. */
  pool: Pool;
  /** Schema to create if missing; it must be first on the pool connections' search_path. */
  schema?: string;
}

export class PostgresTokenStore implements TokenStore, RevocationFeed {
  private constructor(private readonly pool: Pool) {}

  /** Migrates the schema (safe when several nodes start at once) and opens the store. */
  static async open(options: PostgresTokenStoreOptions): Promise<PostgresTokenStore> {
    await migrate(options.pool, 'token-store', MIGRATIONS, { schema: options.schema });
    return new PostgresTokenStore(options.pool);
  }

  async saveIssued(refresh: RefreshTokenRecord, access: AccessTokenRecord): Promise<void> {
    await this.transaction('saving tokens', async (client) => {
      await client.query('INSERT INTO refresh_tokens (hash, family, eid, device, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        refresh.hash,
        refresh.family,
        refresh.eid,
        refresh.device,
        refresh.issuedAt,
        refresh.expiresAt,
      ]);
      await client.query(
        `INSERT INTO access_tokens (jti, family, eid, device, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (jti) DO UPDATE SET family = excluded.family, eid = excluded.eid, device = excluded.device, expires_at = excluded.expires_at`,
        [access.jti, access.family, access.eid, access.device, access.expiresAt],
      );
    });
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    const row = (await this.query<RefreshRow>('reading a refresh token', 'SELECT * FROM refresh_tokens WHERE hash = $1', [hash]))[0];
    if (!row) return undefined;
    return {
      hash: row.hash,
      family: row.family,
      eid: row.eid,
      device: row.device,
      issuedAt: Number(row.issued_at),
      expiresAt: Number(row.expires_at),
      usedAt: row.used_at === null ? undefined : Number(row.used_at),
    };
  }

  /** One UPDATE guarded by `used_at IS NULL`: of concurrent spends on any nodes, exactly one wins. */
  async spendRefreshToken(hash: string, at: number): Promise<boolean> {
    const result = await mapped('spending a refresh token', () =>
      this.pool.query('UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL', [at, hash]),
    );
    return result.rowCount === 1;
  }

  async findAccessToken(jti: string): Promise<AccessTokenRecord | undefined> {
    const row = (
      await this.query<{ jti: string; family: string; eid: string; device: string; expires_at: string }>(
        'reading an access token',
        'SELECT jti, family, eid, device, expires_at FROM access_tokens WHERE jti = $1',
        [jti],
      )
    )[0];
    return row && { jti: row.jti, family: row.family, eid: row.eid, device: row.device, expiresAt: Number(row.expires_at) };
  }

  async revokeFamily(family: string, now: number): Promise<string[]> {
    return this.revocation('revoking a token family', (client, seq) => this.revokeFamilyNow(client, family, now, seq));
  }

  async revokeFamiliesOf(eid: string, device: string, now: number): Promise<void> {
    await this.revocation('revoking token families', async (client, seq) => {
      const families =
        device === ''
          ? await client.query<{ family: string }>('SELECT DISTINCT family FROM refresh_tokens WHERE eid = $1 AND expires_at > $2', [eid, now])
          : await client.query<{ family: string }>('SELECT DISTINCT family FROM refresh_tokens WHERE eid = $1 AND device = $2 AND expires_at > $3', [
              eid,
              device,
              now,
            ]);
      for (const { family } of families.rows) await this.revokeFamilyNow(client, family, now, seq);
    });
  }

  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    await this.revocation('revoking a token', (client, seq) => revokeJtiNow(client, jti, expiresAt, seq));
  }

  async revokeBefore(mark: RevokedBefore): Promise<void> {
    await this.revocation('revoking tokens issued before', async (client, seq) => {
      await client.query(
        `INSERT INTO revoked_before (eid, device, before, seq) VALUES ($1, $2, $3, $4)
         ON CONFLICT (eid, device) DO UPDATE SET before = GREATEST(revoked_before.before, excluded.before), seq = excluded.seq`,
        [mark.eid, mark.device, mark.before, seq],
      );
    });
  }

  async activeRevocations(now: number): Promise<{ jtis: Array<{ jti: string; expiresAt: number }>; before: RevokedBefore[] }> {
    const jtis = await this.query<{ jti: string; expires_at: string }>(
      'reading revocations',
      'SELECT jti, expires_at FROM revoked_jtis WHERE expires_at > $1',
      [now],
    );
    const before = await this.query<{ eid: string; device: string; before: string }>(
      'reading revocations',
      'SELECT eid, device, before FROM revoked_before',
      [],
    );
    return {
      jtis: jtis.map((row) => ({ jti: row.jti, expiresAt: Number(row.expires_at) })),
      before: before.map((row) => ({ eid: row.eid, device: row.device, before: Number(row.before) })),
    };
  }

  async pruneExpired(now: number): Promise<void> {
    await this.transaction('pruning expired tokens', async (client) => {
      await client.query('DELETE FROM refresh_tokens WHERE expires_at <= $1', [now]);
      await client.query('DELETE FROM access_tokens WHERE expires_at <= $1', [now]);
      await client.query('DELETE FROM revoked_jtis WHERE expires_at <= $1', [now]);
    });
  }

  async revocationPosition(): Promise<number> {
    const [row] = await this.query<{ seq: string }>('reading the revocation position', 'SELECT seq FROM revocation_counter', []);
    return Number(row?.seq ?? 0);
  }

  /**
   * One statement, so one snapshot: the counter it reads covers only committed revocations (the
   * counter row is updated in each revoking transaction), and rows up to it are all visible.
   */
  async revocationsSince(position: number, max = 1000): Promise<{ revocations: Revocation[]; position: number }> {
    const rows = await this.query<{ kind: string; a: string; b: string | null; n: string; seq: string; upto: string }>(
      'reading revocations',
      `WITH c AS (SELECT LEAST(seq, $1::bigint + $2::bigint) AS upto FROM revocation_counter)
       SELECT 'jti' AS kind, jti AS a, NULL AS b, expires_at AS n, seq, c.upto FROM revoked_jtis, c WHERE seq > $1 AND seq <= c.upto
       UNION ALL
       SELECT 'before', eid, device, before, seq, c.upto FROM revoked_before, c WHERE seq > $1 AND seq <= c.upto
       UNION ALL
       SELECT 'position', '', NULL, 0, 0, c.upto FROM c
       ORDER BY seq`,
      [position, Math.max(1, Math.floor(max))],
    );
    const revocations: Revocation[] = [];
    let next = position;
    for (const row of rows) {
      next = Math.max(next, Number(row.upto));
      if (row.kind === 'jti') revocations.push({ kind: 'jti', jti: row.a, expiresAt: Number(row.n) });
      else if (row.kind === 'before') revocations.push({ kind: 'before', mark: { eid: row.a, device: row.b!, before: Number(row.n) } });
    }
    return { revocations, position: next };
  }

  /** The pool belongs to its owner. */
  async close(): Promise<void> {}

  /** Spends every refresh token of the family (so none can be exchanged) and revokes its access tokens. */
  private async revokeFamilyNow(client: PoolClient, family: string, now: number, seq: number): Promise<string[]> {
    await client.query('UPDATE refresh_tokens SET used_at = coalesce(used_at, $1), expires_at = LEAST(expires_at, $1) WHERE family = $2', [now, family]);
    const access = await client.query<{ jti: string; expires_at: string }>('SELECT jti, expires_at FROM access_tokens WHERE family = $1 ORDER BY jti', [
      family,
    ]);
    for (const token of access.rows) await revokeJtiNow(client, token.jti, Number(token.expires_at), seq);
    return access.rows.map((token) => token.jti);
  }

  /** Runs `work` in a transaction that takes the next revocation number first (see the file comment). */
  private revocation<T>(doing: string, work: (client: PoolClient, seq: number) => Promise<T>): Promise<T> {
    return this.transaction(doing, async (client) => {
      const counter = await client.query<{ seq: string }>('UPDATE revocation_counter SET seq = seq + 1 RETURNING seq');
      return work(client, Number(counter.rows[0]!.seq));
    });
  }

  private transaction<T>(doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, doing, work);
  }

  private async query<R extends Record<string, unknown>>(doing: string, text: string, values: unknown[]): Promise<R[]> {
    return mapped(doing, async () => (await this.pool.query<R>(text, values)).rows);
  }
}

async function revokeJtiNow(client: PoolClient, jti: string, expiresAt: number, seq: number): Promise<void> {
  await client.query(
    `INSERT INTO revoked_jtis (jti, expires_at, seq) VALUES ($1, $2, $3)
     ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_jtis.expires_at, excluded.expires_at), seq = excluded.seq`,
    [jti, expiresAt, seq],
  );
}
