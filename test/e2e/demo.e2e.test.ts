/**
 * End to end through a real browser: `bimip demo` runs as a child process (node dist/cli/main.js
 * demo), two Chromium contexts open the web chat demo as alice and bob, and the test drives what
 * a user would do: connect, approve the contact, see presence, typing, messages with their ticks
 * (✓ Ack, ✓✓ DELIVERED, blue READ), hide from presence, block, and a `kill -9` of the server with
 * messages written while it is down (kept in the SDK's IndexedDB outbox), delivered exactly once
 * after the restart. Needs the build (dist/cli, dist/demo) and Chromium at /usr/bin/chromium
 * (or BIMIP_E2E_CHROMIUM); without Chromium it fails (`.ci/run` installs Debian's package): never skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ServerProcess, startServerProcess, stopProcess } from '../helpers/server-process.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['BIMIP_E2E_CHROMIUM'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (as .ci/run does), or set BIMIP_E2E_CHROMIUM`);

/** One UI step (a click and its effect over the socket). */
const STEP_MS = 10_000;
/** Reconnecting after the restart: the page's backoff is capped at 5 s. */
const RECONNECT_MS = 25_000;

/** What the test reads off a page: the stable ids and data attributes of demo/index.html. */
interface PageView {
  state: string;
  relation: string;
  presence: string;
  typing: string | undefined;
  messages: Array<{ id: string; dir: string; text: string; status: string; trail: string; deliveries: number; tick: string }>;
}

function readView(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const byId = (id: string): HTMLElement => document.getElementById(id)!;
    const typing = byId('typing');
    return {
      state: byId('state').dataset['state'] ?? '',
      relation: byId('contact').dataset['relation'] ?? '',
      presence: byId('presence').dataset['status'] ?? '',
      typing: typing.hidden ? undefined : (typing.textContent ?? ''),
      messages: Array.from(document.querySelectorAll<HTMLLIElement>('#messages li'), (li) => ({
        id: li.dataset['id'] ?? '',
        dir: li.dataset['dir'] ?? '',
        text: li.querySelector('.text')?.textContent ?? '',
        status: li.dataset['status'] ?? '',
        trail: li.dataset['trail'] ?? '',
        deliveries: Number(li.dataset['deliveries'] ?? '0'),
        tick: li.querySelector('.tick')?.textContent ?? '',
      })),
    };
  });
}

/** Polls a page's view until `ok`; the timeout error shows the last view. */
async function until(page: Page, what: string, ok: (view: PageView) => boolean, timeoutMs = STEP_MS): Promise<PageView> {
  const deadline = Date.now() + timeoutMs;
  let view = await readView(page);
  while (!ok(view)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; page shows ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    view = await readView(page);
  }
  return view;
}

async function send(page: Page, text: string): Promise<void> {
  await page.locator('#compose').fill(text);
  await page.locator('#compose').press('Enter');
}

const outgoing = (view: PageView) => view.messages.filter((m) => m.dir === 'out');
const incoming = (view: PageView) => view.messages.filter((m) => m.dir === 'in');

describe('web chat demo (e2e, Chromium)', () => {
  let dataDir: string;
  let port: number;
  let server: ServerProcess | undefined;
  let browser: Browser | undefined;
  const logs: string[] = [];

  const startDemo = (): Promise<ServerProcess> =>
    startServerProcess({
      port,
      dataDir,
      // Empty: the demo signs with the secret it generates in its data dir (and finds it again after the restart).
      secret: '',
      args: ['demo', '--port', String(port), '--data-dir', dataDir],
      env: { BIMIP_LOG_LEVEL: 'warn' },
    });

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
    if (!existsSync(join(ROOT, 'dist/demo/app.js'))) {
      const built = spawnSync(process.execPath, [join(ROOT, 'demo/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`node demo/build.mjs failed:\n${built.stdout}${built.stderr}`);
    }
    mkdirSync(RESULTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'bimip-demo-e2e-'));
    port = await freePort();
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 40_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await stopProcess(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 20_000);

  /** A page in its own browser context (its own IndexedDB), as `me` chatting with `peer`. */
  async function open(me: string, peer: string): Promise<Page> {
    const context = await browser!.newContext({ viewport: { width: 640, height: 720 } });
    context.setDefaultTimeout(STEP_MS);
    const page = await context.newPage();
    page.on('console', (message) => logs.push(`[${me}] ${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => logs.push(`[${me}] page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${port}/demo/?me=${me}&peer=${peer}&device=web1`);
    return page;
  }

  it('demo - alice and bob chat in two browsers: contact, presence, typing, ticks, visibility, block, and kill -9 with messages sent while down', async () => {
    const alice = await open('alice', 'bob');
    const bob = await open('bob', 'alice');
    try {
      // Both connect with a token from POST /demo/token.
      await until(alice, 'alice connected', (v) => v.state === 'connected');
      await until(bob, 'bob connected', (v) => v.state === 'connected');

      // F7: alice asks, bob approves; presence is shared both ways.
      await alice.locator('#subscribe').click();
      await until(alice, 'alice waiting for approval', (v) => v.relation === 'pending-out');
      await until(bob, 'bob offered Approve', (v) => v.relation === 'pending-in');
      await bob.locator('#approve').click();
      await until(bob, 'bob subscribed', (v) => v.relation === 'subscribed');
      await until(alice, 'alice subscribed', (v) => v.relation === 'subscribed');
      await until(alice, 'bob online on alice’s page', (v) => v.presence === 'online');
      await until(bob, 'alice online on bob’s page', (v) => v.presence === 'online');

      // F5: alice types, bob sees it.
      await alice.locator('#compose').pressSequentially('hel', { delay: 30 });
      await until(bob, 'bob sees alice typing', (v) => v.typing?.includes('alice is typing') === true);
      await alice.locator('#compose').fill('');

      // F1 + F4: three messages, in order at bob, each ✓ → ✓✓ → blue ✓✓ at alice.
      const texts = ['hello bob', 'how are you?', 'third one'];
      for (const text of texts) await send(alice, text);
      const atBob = await until(bob, 'bob has the 3 messages', (v) => incoming(v).length === 3);
      expect(incoming(atBob).map((m) => m.text)).toEqual(texts);
      expect(incoming(atBob).map((m) => m.deliveries)).toEqual([1, 1, 1]);
      const atAlice = await until(alice, 'alice sees the 3 READ', (v) => outgoing(v).length === 3 && outgoing(v).every((m) => m.status === 'read'));
      for (const message of outgoing(atAlice)) {
        expect(message.trail).toMatch(/^pending sent( delivered)? read$/);
        expect(message.tick).toBe('✓✓');
      }
      // DELIVERED is shown before READ for at least the first (bob answers both at once, in order).
      expect(outgoing(atAlice).some((m) => m.trail.includes('delivered'))).toBe(true);
      expect(outgoing(atAlice).map((m) => m.text)).toEqual(texts);

      // F6 visibility: bob hides → alice sees him offline; shows again → online.
      await bob.locator('#visibility-toggle').click();
      await bob.locator('#visibility-toggle[data-visible="false"]').waitFor({ timeout: STEP_MS });
      await until(alice, 'bob offline on alice’s page', (v) => v.presence === 'offline');
      await bob.locator('#visibility-toggle').click();
      await bob.locator('#visibility-toggle[data-visible="true"]').waitFor({ timeout: STEP_MS });
      await until(alice, 'bob online again on alice’s page', (v) => v.presence === 'online');

      // F7 block: alice's next message is refused (Ack 403 → SendRejectedError → ⚠); then unblock.
      await bob.locator('#block').click();
      await until(bob, 'bob blocked alice', (v) => v.relation === 'blocked');
      await send(alice, 'are you blocking me?');
      const refused = await until(alice, 'alice’s message refused', (v) => outgoing(v).at(-1)?.status === 'failed');
      expect(outgoing(refused).at(-1)).toMatchObject({ text: 'are you blocking me?', tick: '⚠' });
      expect(await alice.locator('#messages li[data-status="failed"] .tick').getAttribute('title')).toContain('403');
      await bob.locator('#unblock').click();
      await until(bob, 'bob unblocked alice', (v) => v.relation === 'none');
      // The block ended the subscription (F7): share presence again.
      await alice.locator('#subscribe').click();
      await until(bob, 'bob offered Approve again', (v) => v.relation === 'pending-in');
      await bob.locator('#approve').click();
      await until(alice, 'alice subscribed again', (v) => v.relation === 'subscribed' && v.presence === 'online');

      // kill -9 the server; alice writes two messages while it is down: they wait in the outbox.
      const killed = server!;
      process.kill(killed.pid, 'SIGKILL');
      await within(killed.exited, 'the demo server to die', 5000);
      server = undefined;
      await until(alice, 'alice disconnected', (v) => v.state !== 'connected');
      await until(bob, 'bob disconnected', (v) => v.state !== 'connected');
      const whileDown = ['sent while down 1', 'sent while down 2'];
      for (const text of whileDown) await send(alice, text);
      const pending = await until(alice, 'alice’s 2 pending', (v) => outgoing(v).filter((m) => whileDown.includes(m.text)).length === 2);
      expect(
        outgoing(pending)
          .filter((m) => whileDown.includes(m.text))
          .map((m) => m.status),
      ).toEqual(['pending', 'pending']);

      // Same port, same data dir: both pages reconnect by themselves and the outbox goes out.
      server = await startDemo();
      await until(alice, 'alice reconnected', (v) => v.state === 'connected', RECONNECT_MS);
      await until(bob, 'bob reconnected', (v) => v.state === 'connected', RECONNECT_MS);
      await until(bob, 'bob has the 2 messages sent while down', (v) => incoming(v).length === 5);
      const done = await until(
        alice,
        'alice sees READ on the 2',
        (v) => outgoing(v).filter((m) => whileDown.includes(m.text) && m.status === 'read').length === 2,
      );
      // Exactly once at bob: one <li> per id, each handed over once by the SDK, in order; nothing late.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const final = await readView(bob);
      const ids = final.messages.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(incoming(final).map((m) => m.text)).toEqual([...texts, ...whileDown]);
      expect(incoming(final).map((m) => m.deliveries)).toEqual([1, 1, 1, 1, 1]);
      for (const text of whileDown) expect(await bob.locator('#messages li', { hasText: text }).count()).toBe(1);
      expect(outgoing(done).map((m) => m.status)).toEqual(['read', 'read', 'read', 'failed', 'read', 'read']);
      await until(alice, 'bob online after the restart', (v) => v.presence === 'online', STEP_MS);
      expect((await readView(alice)).state).toBe('connected');
      expect((await readView(bob)).state).toBe('connected');

      await alice.screenshot({ path: join(RESULTS, 'demo.png') });
      await bob.screenshot({ path: join(RESULTS, 'demo-bob.png') });
    } catch (err) {
      await alice.screenshot({ path: join(RESULTS, 'demo-failure-alice.png') }).catch(() => undefined);
      await bob.screenshot({ path: join(RESULTS, 'demo-failure-bob.png') }).catch(() => undefined);
      const serverOutput = server?.output() ?? '';
      throw new Error(`${(err as Error).message}\n--- page logs ---\n${logs.join('\n')}\n--- server output ---\n${serverOutput.slice(-4000)}`, { cause: err });
    }
  }, 90_000);
});
