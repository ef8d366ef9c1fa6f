/**
 * The server under fuzz: the real `bimip serve` (dist/cli/main.js) as a child process on a free
 * port of 127.0.0.1 with its own data dir, so "the process is alive" means exactly that and its RSS
 * is its own. Also: the protected users seeded before the fuzz (see store-check.ts), token issuing
 * for fuzz actors, and the after-checks (alive, a fresh pair still exchanges a message, stored data).
 * Only the PID spawned here is ever signalled.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection, type QueueEntry } from '../../src/client/index.js';
import { Code } from '../../src/protocol/index.js';
import { freePort, killProcess, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { within } from '../helpers/wait.js';
import { checkStore, settledSnapshot, waitForQuietStore, type Actors, type StoreSnapshot, type StoreVerdict } from './store-check.js';

export const FUZZ_SECRET = 'fuzz-secret-0123456789abcdef';
const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';

/** Users whose data the fuzz must never change; no fuzz template names them. */
export interface ProtectedWorld {
  eids: string[];
  /** Access token of a protected user: fuzz frames VALIDATE it and try to REVOKE it (must be refused: 403). */
  accessToken: string;
  /** signal_ids of their messages: fuzz receipts for them must be refused (403), never stored. */
  signalIds: string[];
}

export interface MemoryFigures {
  /** Resident set size in bytes, and the peak so far (VmHWM). */
  rss: number;
  peakRss: number;
  /** V8 heap in use, from /metrics. */
  heapUsed: number | undefined;
  /** CPU time the server used so far (user + system), in seconds. */
  cpuSeconds: number;
}

export class FuzzTarget {
  readonly actors = { eids: new Set<string>(), jtis: new Set<string>() } satisfies Actors;
  readonly issuer = new TokenIssuer(FUZZ_SECRET);
  world!: ProtectedWorld;
  baseline!: StoreSnapshot;

  private constructor(
    readonly server: ServerProcess,
    readonly dataDir: string,
    readonly port: number,
  ) {}

  /** Starts the server, seeds the protected users and takes the baseline snapshot (unless `bare`). */
  static async start(options: { env?: Record<string, string>; bare?: boolean } = {}): Promise<FuzzTarget> {
    const dataDir = mkdtempSync(join(tmpdir(), 'bimip-fuzz-'));
    const port = await freePort();
    const server = await startServerProcess({
      port,
      dataDir,
      secret: FUZZ_SECRET,
      // Rate limit off: at 200 frames/s most fuzz frames would get 429 before any handler saw them.
      // Log level error: a handler that throws logs there (and answers 500, which the run reports).
      env: { BIMIP_ADMIN_TOKEN: ADMIN_TOKEN, BIMIP_LOG_LEVEL: 'error', BIMIP_RATE_LIMIT: '0', ...options.env },
    });
    const target = new FuzzTarget(server, dataDir, port);
    if (options.bare) return target;
    try {
      target.world = await target.seedProtectedUsers();
      target.baseline = await settledSnapshot(dataDir);
    } catch (err) {
      await target.stop();
      throw err;
    }
    return target;
  }

  get url(): string {
    return this.server.url;
  }

  get exited(): boolean {
    return this.server.hasExited;
  }

  /** An access token for a fuzz actor (recorded as such). */
  async issueAccess(eid: string, device: string): Promise<string> {
    const { token, jti } = await this.issuer.issue({ eid, deviceId: device });
    this.actors.eids.add(eid);
    this.actors.jtis.add(jti);
    return token;
  }

  /** An access + refresh pair from the admin API (rows in auth.sqlite); `actor` records it as fuzz-owned. */
  async issuePair(eid: string, device: string, actor = true): Promise<{ accessToken: string; refreshToken: string }> {
    const response = await fetch(`${this.server.baseUrl}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eid, device }),
      signal: AbortSignal.timeout(5000),
    });
    if (response.status !== 201) throw new Error(`POST /v1/tokens answered ${response.status}: ${await response.text()}`);
    const pair = (await response.json()) as { access_token: string; refresh_token: string };
    if (actor) {
      this.actors.eids.add(eid);
      this.actors.jtis.add(String(decodeJwt(pair.access_token).jti));
    }
    return { accessToken: pair.access_token, refreshToken: pair.refresh_token };
  }

  async alive(): Promise<boolean> {
    if (this.server.hasExited) return false;
    try {
      const response = await fetch(`${this.server.baseUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
      return response.status === 200;
    } catch {
      return false;
    }
  }

  async memory(): Promise<MemoryFigures | undefined> {
    if (this.server.hasExited) return undefined;
    let rss = 0;
    let peakRss = 0;
    let cpuSeconds = 0;
    try {
      // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): utime, stime in ticks (100/s).
      const stat = readFileSync(`/proc/${this.server.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
      const status = readFileSync(`/proc/${this.server.pid}/status`, 'utf8');
      rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      peakRss = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // not Linux: RSS unknown
    }
    let heapUsed: number | undefined;
    try {
      const text = await (await fetch(`${this.server.baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
      heapUsed = match ? Number(match[1]) : undefined;
    } catch {
      heapUsed = undefined;
    }
    return { rss, peakRss, heapUsed, cpuSeconds };
  }

  /** A fresh pair of users still exchanges a message: Ack 200, then the receiver gets it. undefined when fine. */
  async witness(label: string): Promise<string | undefined> {
    const stamp = `${label}-${Date.now().toString(36)}`;
    const receiverEid = `witness-b-${stamp}@fuzz.test`;
    const opened: BimipConnection[] = [];
    try {
      const receiver = await BimipConnection.connect({ url: this.url, token: await this.issueAccess(receiverEid, 'phone'), connectTimeoutMs: 5000 });
      opened.push(receiver);
      await within(receiver.caughtUp, 'witness receiver caught up');
      const sender = await BimipConnection.connect({
        url: this.url,
        token: await this.issueAccess(`witness-a-${stamp}@fuzz.test`, 'phone'),
        connectTimeoutMs: 5000,
      });
      opened.push(sender);
      await within(sender.caughtUp, 'witness sender caught up');
      const ack = await within(sender.send({ id: `w-${stamp}`, to: receiverEid, payload: 'still serving' }), 'witness Ack');
      if (ack.code !== Code.OK) return `witness message got Ack ${ack.code} (${ack.details})`;
      const entry = await nextEntry(receiver, 5000);
      if (entry?.kind !== 'message' || entry.message.signalId !== ack.signalId) return `witness receiver got ${JSON.stringify(entry)} instead of the message`;
      return undefined;
    } catch (err) {
      return `witness failed: ${(err as Error).message}`;
    } finally {
      await Promise.allSettled(opened.map((client) => within(client.close(), 'witness close', 2000)));
    }
  }

  /** The stored-data verdict against the baseline (waits for in-flight writes to land first). */
  async verdict(): Promise<StoreVerdict> {
    await waitForQuietStore(this.dataDir);
    return checkStore(this.dataDir, this.baseline, this.world.eids, this.actors);
  }

  /** SIGTERM (graceful: it must exit by itself), SIGKILL after 10 s. Removes the data dir unless `keepData`. */
  async stop(keepData = false): Promise<{ code: number | null; signal: string | null; graceful: boolean }> {
    let outcome: { code: number | null; signal: string | null; graceful: boolean };
    if (this.server.hasExited) {
      outcome = { ...(await this.server.exited), graceful: false };
    } else {
      killProcess(this.server, 'SIGTERM');
      try {
        outcome = { ...(await within(this.server.exited, 'graceful exit', 10_000)), graceful: true };
      } catch {
        killProcess(this.server, 'SIGKILL');
        outcome = { ...(await within(this.server.exited, 'exit after SIGKILL', 5000)), graceful: false };
      }
    }
    if (!keepData) rmSync(this.dataDir, { recursive: true, force: true });
    return outcome;
  }

  /** The server's stdout/stderr (error-level logs), last `chars` characters. */
  outputTail(chars = 4000): string {
    return this.server.output().slice(-chars);
  }

  /**
   * Protected users with data in every table a fuzz frame could reach: messages both ways, a READ
   * receipt, a mutual subscription, a block, a hidden visibility setting, committed cursors, issued
   * token pairs and a revoked token. Then they leave and never come back.
   */
  private async seedProtectedUsers(): Promise<ProtectedWorld> {
    const alice = 'alice.protected-7f3e91@bystanders.example';
    const bob = 'bob.protected-7f3e91@bystanders.example';
    const carol = 'carol.protected-7f3e91@bystanders.example';
    const alicePair = await this.issuePair(alice, 'phone', false);
    const bobPair = await this.issuePair(bob, 'phone', false);
    const bobLaptop = await this.issuePair(bob, 'laptop', false);
    const opened: BimipConnection[] = [];
    const connect = async (token: string): Promise<BimipConnection> => {
      const client = await BimipConnection.connect({ url: this.url, token, connectTimeoutMs: 5000 });
      opened.push(client);
      await within(client.caughtUp, 'protected user caught up');
      return client;
    };
    try {
      const a = await connect(alicePair.accessToken);
      const b = await connect(bobPair.accessToken);
      const signalIds: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const ack = await within(a.send({ id: `seed-a-${i}`, to: bob, payload: `from alice ${i}` }), 'seed Ack');
        if (ack.code !== Code.OK) throw new Error(`seeding: Ack ${ack.code}`);
        signalIds.push(ack.signalId);
      }
      for (let i = 1; i <= 2; i++) signalIds.push((await within(b.send({ id: `seed-b-${i}`, to: alice, payload: `from bob ${i}` }), 'seed Ack')).signalId);
      const first = await nextEntry(b, 5000);
      if (first?.kind !== 'message') throw new Error('seeding: bob did not receive alice’s message');
      b.sendReceipt(first.message, 3);
      for (let seen = 0; seen < 3; seen++) {
        const entry = await nextEntry(a, 5000);
        if (entry?.kind === 'signal') break;
        if (seen === 2) throw new Error('seeding: the READ receipt did not reach alice');
      }
      await within(a.subscribe(bob), 'subscribe');
      await within(b.approve(alice), 'approve');
      await within(a.block(carol), 'block');
      await within(b.setVisibility(false), 'hide');
      b.commit(first.offset);
      await within(b.revokeToken(bobLaptop.accessToken), 'revoke');
      await within(b.ping(), 'ping after commit');
      return { eids: [alice, bob, carol], accessToken: alicePair.accessToken, signalIds };
    } finally {
      await Promise.allSettled(opened.map((client) => within(client.close(), 'seed close', 2000)));
    }
  }
}

async function nextEntry(client: BimipConnection, timeoutMs: number): Promise<QueueEntry | undefined> {
  const next = await within(client.entries.next(), 'queue entry', timeoutMs);
  return next.done ? undefined : next.value;
}
