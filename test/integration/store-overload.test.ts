/**
 * Issue #7 item 11 (part): the group-commit queue is bounded. Past the bound a send is refused at
 * once (Ack 503, retry later) instead of queueing without limit; nothing refused is stored, and
 * everything accepted is.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection } from '../../src/client/index.js';
import { StoreOverloadedError } from '../../src/core/errors.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { openTestAuth, tempDir, TEST_SECRET, startServerOnStore } from '../helpers/harness.js';
import { messageToB, openTempStore, storedIds } from '../helpers/sqlite-store.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('store overload', () => {
  it('overload - appends past maxQueuedWrites are refused at once; exactly the accepted ones are stored; accepting resumes once drained', async () => {
    const { store } = await openTempStore(cleanups, { maxQueuedWrites: 8 });
    // Issued in one turn: the writer cannot drain any of them before the last is queued.
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.appendMessage(messageToB(`m-${i}`))));
    const accepted = results.flatMap((result, i) => (result.status === 'fulfilled' ? [`m-${i}`] : []));
    const refusals = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    expect(accepted).toHaveLength(8);
    expect(refusals).toHaveLength(192);
    for (const reason of refusals) expect(reason).toBeInstanceOf(StoreOverloadedError);
    expect(await storedIds(store)).toEqual(accepted);
    // Drained: a send is accepted again.
    await store.appendMessage(messageToB('later'));
    expect(await storedIds(store)).toEqual([...accepted, 'later']);
  });

  it('overload - the bytes of queued bodies are bounded too; one body larger than the bound still goes through alone', async () => {
    const { store } = await openTempStore(cleanups, { maxQueuedBytes: 64 * 1024 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.appendMessage(messageToB(`m-${i}`, 10 * 1024))));
    const accepted = results.flatMap((result, i) => (result.status === 'fulfilled' ? [`m-${i}`] : []));
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    expect(accepted.length).toBeLessThanOrEqual(6);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(StoreOverloadedError);
    expect(await storedIds(store)).toEqual(accepted);
    await store.appendMessage(messageToB('huge', 100 * 1024));
    expect((await storedIds(store)).at(-1)).toBe('huge');
  });

  it('overload - over the socket: refused sends get Ack 503 "overloaded, retry later", every Ack 200 is stored, one log line per burst', async () => {
    const dataDir = tempDir();
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = await SqliteMessageStore.open({ path: join(dataDir, 'bimip.sqlite'), maxQueuedWrites: 2 });
    const auth = await openTestAuth(dataDir);
    const logLines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
    const server = await startServerOnStore(store, auth.tokens, { logger, session: { ratePerSecond: 0 } });
    cleanups.push(async () => {
      await server.stop();
      await auth.store.close();
    });
    const issuer = new TokenIssuer(TEST_SECRET);
    const a = await BimipConnection.connect({ url: server.url, token: await issuer.issueAccessToken({ eid: 'a@example.com', deviceId: 'phone' }) });
    cleanups.push(() => void a.close());

    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => a.send({ to: 'b@example.com', id: `s-${i}`, payload: `message ${i}` })));
    const ok = acks.flatMap((ack, i) => (ack.code === 200 ? [`s-${i}`] : []));
    const refused = acks.filter((ack) => ack.code !== 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThan(0);
    for (const ack of refused) expect(ack).toMatchObject({ code: 503, details: expect.stringMatching(/overloaded.*retry later/) });
    expect((await storedIds(store)).sort()).toEqual(ok.sort());
    expect((await store.queueInfo('b@example.com')).head).toBe(ok.length);
    const refusalLines = logLines.filter((line) => line.includes('refused with 503'));
    expect(refusalLines.length).toBeGreaterThanOrEqual(1);
    expect(refusalLines.length).toBeLessThanOrEqual(3);
  });
});
