/**
 * SqliteTokenStore: token state in its own small SQLite file (`auth.sqlite` in the data dir), on
 * the main thread. Token operations are rare (login, refresh, revoke, logout), so a synchronous
 * fsynced write each is cheap, and keeping them out of the message database keeps the message
 * writer's group commits free of them. `bimip token` (another process) writes to the same file;
 * SQLite's locking makes that safe.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AccessTokenRecord, RefreshTokenRecord, RevokedBefore, TokenStore } from '../../core/token-store.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash       TEXT    PRIMARY KEY,
    family     TEXT    NOT NULL,
    eid        TEXT    NOT NULL,
    device     TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);
  CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (eid, device);
  CREATE TABLE IF NOT EXISTS access_tokens (
    jti        TEXT    PRIMARY KEY,
    family     TEXT    NOT NULL,
    eid        TEXT    NOT NULL,
    device     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS access_tokens_family ON access_tokens (family);
  CREATE TABLE IF NOT EXISTS revoked_jtis (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS revoked_before (
    eid    TEXT    NOT NULL,
    device TEXT    NOT NULL,
    before INTEGER NOT NULL,
    PRIMARY KEY (eid, device)
  ) WITHOUT ROWID;
`;

interface RefreshRow {
  hash: string;
  family: string;
  eid: string;
  device: string;
  issued_at: number;
  expires_at: number;
  used_at: number | null;
}

export class SqliteTokenStore implements TokenStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      insertRefresh: db.prepare('INSERT INTO refresh_tokens (hash, family, eid, device, issued_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)'),
      insertAccess: db.prepare('INSERT OR REPLACE INTO access_tokens (jti, family, eid, device, expires_at) VALUES (?, ?, ?, ?, ?)'),
      findRefresh: db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?'),
      spend: db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL'),
      findAccess: db.prepare('SELECT jti, family, eid, device, expires_at FROM access_tokens WHERE jti = ?'),
      familyAccess: db.prepare('SELECT jti, expires_at FROM access_tokens WHERE family = ?'),
      spendFamily: db.prepare('UPDATE refresh_tokens SET used_at = coalesce(used_at, ?), expires_at = min(expires_at, ?) WHERE family = ?'),
      familiesOfUser: db.prepare('SELECT DISTINCT family FROM refresh_tokens WHERE eid = ? AND expires_at > ?').pluck(),
      familiesOfDevice: db.prepare('SELECT DISTINCT family FROM refresh_tokens WHERE eid = ? AND device = ? AND expires_at > ?').pluck(),
      revokeJti: db.prepare(
        'INSERT INTO revoked_jtis (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)',
      ),
      revokeBefore: db.prepare(
        'INSERT INTO revoked_before (eid, device, before) VALUES (?, ?, ?) ON CONFLICT (eid, device) DO UPDATE SET before = max(before, excluded.before)',
      ),
      activeJtis: db.prepare('SELECT jti, expires_at FROM revoked_jtis WHERE expires_at > ?'),
      allBefore: db.prepare('SELECT eid, device, before FROM revoked_before'),
      pruneRefresh: db.prepare('DELETE FROM refresh_tokens WHERE expires_at <= ?'),
      pruneAccess: db.prepare('DELETE FROM access_tokens WHERE expires_at <= ?'),
      pruneJtis: db.prepare('DELETE FROM revoked_jtis WHERE expires_at <= ?'),
    };
  }

  async saveIssued(refresh: RefreshTokenRecord, access: AccessTokenRecord): Promise<void> {
    this.db.transaction(() => {
      this.statements.insertRefresh.run(refresh.hash, refresh.family, refresh.eid, refresh.device, refresh.issuedAt, refresh.expiresAt);
      this.statements.insertAccess.run(access.jti, access.family, access.eid, access.device, access.expiresAt);
    })();
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    const row = this.statements.findRefresh.get(hash) as RefreshRow | undefined;
    if (!row) return undefined;
    return {
      hash: row.hash,
      family: row.family,
      eid: row.eid,
      device: row.device,
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
      usedAt: row.used_at ?? undefined,
    };
  }

  async spendRefreshToken(hash: string, at: number): Promise<boolean> {
    return this.statements.spend.run(at, hash).changes === 1;
  }

  async findAccessToken(jti: string): Promise<AccessTokenRecord | undefined> {
    const row = this.statements.findAccess.get(jti) as { jti: string; family: string; eid: string; device: string; expires_at: number } | undefined;
    return row && { jti: row.jti, family: row.family, eid: row.eid, device: row.device, expiresAt: row.expires_at };
  }

  async revokeFamily(family: string, now: number): Promise<string[]> {
    return this.db.transaction(() => this.revokeFamilyNow(family, now))();
  }

  async revokeFamiliesOf(eid: string, device: string, now: number): Promise<void> {
    this.db.transaction(() => {
      const families = (device === '' ? this.statements.familiesOfUser.all(eid, now) : this.statements.familiesOfDevice.all(eid, device, now)) as string[];
      for (const family of families) this.revokeFamilyNow(family, now);
    })();
  }

  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    this.statements.revokeJti.run(jti, expiresAt);
  }

  async revokeBefore(mark: RevokedBefore): Promise<void> {
    this.statements.revokeBefore.run(mark.eid, mark.device, mark.before);
  }

  async activeRevocations(now: number): Promise<{ jtis: Array<{ jti: string; expiresAt: number }>; before: RevokedBefore[] }> {
    const jtis = (this.statements.activeJtis.all(now) as Array<{ jti: string; expires_at: number }>).map((row) => ({
      jti: row.jti,
      expiresAt: row.expires_at,
    }));
    return { jtis, before: this.statements.allBefore.all() as RevokedBefore[] };
  }

  async pruneExpired(now: number): Promise<void> {
    this.db.transaction(() => {
      this.statements.pruneRefresh.run(now);
      this.statements.pruneAccess.run(now);
      this.statements.pruneJtis.run(now);
    })();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Spends every refresh token of the family (so none can be exchanged) and revokes its access tokens. */
  private revokeFamilyNow(family: string, now: number): string[] {
    this.statements.spendFamily.run(now, now, family);
    const access = this.statements.familyAccess.all(family) as Array<{ jti: string; expires_at: number }>;
    for (const token of access) this.statements.revokeJti.run(token.jti, token.expires_at);
    return access.map((token) => token.jti);
  }
}
