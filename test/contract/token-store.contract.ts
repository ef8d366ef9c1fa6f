/**
 * The TokenStore port contract (src/core/token-store.ts, SPEC §6 F8, issue #4), run against every
 * engine; with `openAnother`, its cluster half (two instances over the same data), and for engines
 * that offer it, the RevocationFeed contract (src/core/revocation-feed.ts).
 */
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import type { RevocationFeed } from '../../src/core/revocation-feed.js';
import type { AccessTokenRecord, RefreshTokenRecord, TokenStore } from '../../src/core/token-store.js';

export interface OpenedTokenStore {
  store: TokenStore;
  /** The same data again after the suite closed `store`. */
  reopen?: () => Promise<TokenStore>;
  /** A second instance over the same data while `store` stays open (engines several nodes share). */
  openAnother?: () => Promise<TokenStore>;
  cleanup(): Promise<void>;
}

const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;

function issued(n: number, family = `fam-${n}`, eid = 'alice', device = 'phone', expiresAt = NOW + HOUR): [RefreshTokenRecord, AccessTokenRecord] {
  return [
    { hash: `hash-${n}`, family, eid, device, issuedAt: NOW, expiresAt, usedAt: undefined },
    { jti: `jti-${n}`, family, eid, device, expiresAt },
  ];
}

function feedOf(store: TokenStore): RevocationFeed | undefined {
  return 'revocationsSince' in store ? (store as TokenStore & RevocationFeed) : undefined;
}

export function tokenStoreContract(name: string, open: () => Promise<OpenedTokenStore>, capabilities: { shared: boolean }): void {
  describe(`TokenStore contract: ${name}`, () => {
    let opened: OpenedTokenStore | undefined;
    let live: TokenStore[] = [];

    afterEach(async () => {
      for (const store of live.splice(0)) await store.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(): Promise<TokenStore> {
      opened = await open();
      live.push(opened.store);
      return opened.store;
    }

    async function another(_ctx: TestContext): Promise<TokenStore> {
      if (!opened?.openAnother) throw new Error(`${name}: an engine registered as shared must offer openAnother`);
      const store = await opened.openAnother();
      live.push(store);
      return store;
    }

    it(`${name} - issued tokens are found by hash and jti`, async () => {
      const store = await fresh();
      const [refresh, access] = issued(1);
      await store.saveIssued(refresh, access);
      expect(await store.findRefreshToken('hash-1')).toEqual(refresh);
      expect(await store.findAccessToken('jti-1')).toEqual(access);
      expect(await store.findRefreshToken('nope')).toBeUndefined();
      expect(await store.findAccessToken('nope')).toBeUndefined();
    });

    it(`${name} - a refresh token is spent once; concurrent spends have one winner`, async () => {
      const store = await fresh();
      await store.saveIssued(...issued(1));
      await store.saveIssued(...issued(2));
      expect(await store.spendRefreshToken('hash-1', NOW + 5)).toBe(true);
      expect(await store.spendRefreshToken('hash-1', NOW + 6)).toBe(false);
      expect((await store.findRefreshToken('hash-1'))?.usedAt).toBe(NOW + 5);
      const spends = await Promise.all(Array.from({ length: 6 }, () => store.spendRefreshToken('hash-2', NOW)));
      expect(spends.filter(Boolean)).toHaveLength(1);
      expect(await store.spendRefreshToken('unknown', NOW)).toBe(false);
    });

    it(`${name} - revoking a family spends its refresh tokens and revokes its access tokens`, async () => {
      const store = await fresh();
      await store.saveIssued(...issued(1, 'fam'));
      await store.saveIssued(...issued(2, 'fam'));
      await store.saveIssued(...issued(3, 'other'));
      expect((await store.revokeFamily('fam', NOW)).sort()).toEqual(['jti-1', 'jti-2']);
      expect(await store.spendRefreshToken('hash-2', NOW)).toBe(false);
      expect(await store.spendRefreshToken('hash-3', NOW)).toBe(true);
      const active = await store.activeRevocations(NOW);
      expect(active.jtis.map((j) => j.jti).sort()).toEqual(['jti-1', 'jti-2']);
      expect(active.jtis.find((j) => j.jti === 'jti-1')?.expiresAt).toBe(NOW + HOUR);
    });

    it(`${name} - revoking the families of a device, or of every device of a user`, async () => {
      const store = await fresh();
      await store.saveIssued(...issued(1, 'f1', 'alice', 'phone'));
      await store.saveIssued(...issued(2, 'f2', 'alice', 'laptop'));
      await store.saveIssued(...issued(3, 'f3', 'bob', 'phone'));
      await store.revokeFamiliesOf('alice', 'phone', NOW);
      expect((await store.activeRevocations(NOW)).jtis.map((j) => j.jti)).toEqual(['jti-1']);
      await store.revokeFamiliesOf('alice', '', NOW);
      expect((await store.activeRevocations(NOW)).jtis.map((j) => j.jti).sort()).toEqual(['jti-1', 'jti-2']);
      expect(await store.spendRefreshToken('hash-3', NOW)).toBe(true);
    });

    it(`${name} - revocations keep the later expiry and the later mark; expired ones are no longer active, then pruned`, async () => {
      const store = await fresh();
      await store.revokeJti('j', NOW + 10);
      await store.revokeJti('j', NOW + 5);
      await store.revokeJti('short', NOW + 1);
      await store.revokeBefore({ eid: 'alice', device: '', before: NOW + 100 });
      await store.revokeBefore({ eid: 'alice', device: '', before: NOW + 50 });
      await store.revokeBefore({ eid: 'alice', device: 'phone', before: NOW + 7 });
      const active = await store.activeRevocations(NOW + 2);
      expect(active.jtis).toEqual([{ jti: 'j', expiresAt: NOW + 10 }]);
      expect(active.before.sort((a, b) => a.device.localeCompare(b.device))).toEqual([
        { eid: 'alice', device: '', before: NOW + 100 },
        { eid: 'alice', device: 'phone', before: NOW + 7 },
      ]);
      await store.saveIssued(...issued(1, 'f', 'alice', 'phone', NOW + 3));
      await store.pruneExpired(NOW + 20);
      expect(await store.findRefreshToken('hash-1')).toBeUndefined();
      expect(await store.findAccessToken('jti-1')).toBeUndefined();
      expect((await store.activeRevocations(0)).jtis).toEqual([]);
    });

    it(`${name} - everything survives close and reopen`, async (_ctx) => {
      let store = await fresh();
      if (!opened!.reopen) throw new Error(`${name}: a token store must be durable`);
      await store.saveIssued(...issued(1));
      await store.spendRefreshToken('hash-1', NOW);
      await store.revokeJti('jti-1', NOW + HOUR);
      await store.close();
      live = [];
      store = await opened!.reopen!();
      live.push(store);
      expect((await store.findRefreshToken('hash-1'))?.usedAt).toBe(NOW);
      expect((await store.activeRevocations(NOW)).jtis).toEqual([{ jti: 'jti-1', expiresAt: NOW + HOUR }]);
    });

    // Registered only for engines built for several instances over one data set (nothing skipped).
    if (capabilities.shared)
      describe('two instances', () => {
        it(`${name} - a refresh token spent on two instances at once has one winner; a revocation on one is active on the other`, async (ctx) => {
          const a = await fresh();
          const b = await another(ctx);
          await a.saveIssued(...issued(1));
          const spends = await Promise.all([a, b, a, b].map((store) => store.spendRefreshToken('hash-1', NOW)));
          expect(spends.filter(Boolean)).toHaveLength(1);
          await b.revokeFamily('fam-1', NOW);
          expect((await a.activeRevocations(NOW)).jtis.map((j) => j.jti)).toEqual(['jti-1']);
        });

        it(`${name} - the revocation feed misses none of the revocations two instances commit concurrently`, async (ctx) => {
          const a = await fresh();
          const b = await another(ctx);
          const feed = feedOf(a);
          if (!feed) throw new Error(`${name}: a shared token store must offer a RevocationFeed (SPEC §11)`);
          let position = await feed!.revocationPosition();
          const seen = new Set<string>();
          let writing = true;
          const writes = Promise.all(
            Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? b : a).revokeJti(`r-${i}`, NOW + HOUR)).concat([
              b.revokeBefore({ eid: 'bob', device: '', before: NOW }),
            ]),
          ).finally(() => (writing = false));
          // Poll like a node would, with a small page so positions advance in steps.
          for (let round = 0; round < 10_000 && (writing || round === 0 || seen.size < 61); round++) {
            const page = await feed!.revocationsSince(position, 7);
            for (const revocation of page.revocations) seen.add(revocation.kind === 'jti' ? revocation.jti : `before:${revocation.mark.eid}`);
            expect(page.position).toBeGreaterThanOrEqual(position);
            if (page.position === position && !writing) break;
            position = page.position;
          }
          await writes;
          expect(seen.size).toBe(61);
          expect(await feed!.revocationsSince(position)).toEqual({ revocations: [], position });
          // A later revocation of a family is reported with its access tokens.
          await a.saveIssued(...issued(9, 'fam-9'));
          await b.revokeFamily('fam-9', NOW);
          const next = await feed!.revocationsSince(position);
          expect(next.revocations).toEqual([{ kind: 'jti', jti: 'jti-9', expiresAt: NOW + HOUR }]);
          expect(next.position).toBeGreaterThan(position);
          expect(await feed!.revocationPosition()).toBe(next.position);
        });
      });
  });
}
