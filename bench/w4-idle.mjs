/**
 * W4 idle connections: 10,000 idle connections (10,000 distinct users, one device each; tokens
 * generated before the clock starts), opened with the SDK from child processes (lib/idle-worker.mjs)
 * in batches of `concurrency` concurrent connects, each waiting for its caught-up marker. Server RSS
 * (VmRSS from /proc/<pid>/status) is sampled before (after a 50-connection warm-up that is closed
 * again) and after all are connected; the difference divided by the count is KiB per connection.
 * The server runs with BIMIP_IDLE_TIMEOUT_SECONDS=600 so its 60 s idle sweep does not close the
 * early connections while the later ones are still being opened.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { BimipConnection } from '../dist/client/index.js';
import { fileLimits, rssKiB, scrapeMetrics, sleep, startServer, ROOT } from './lib/server.mjs';
import { median, token } from './lib/util.mjs';
import { summarizeLog } from './w1-throughput.mjs';

export const W4 = { connections: 10_000, concurrency: 100, perWorkerMax: 2_500, warmup: 50 };

const WORKER = join(ROOT, 'bench', 'lib', 'idle-worker.mjs');

/** RSS after a full GC in the server (see lib/gc-on-signal.cjs), median of `samples`. */
async function sampleRss(pid, samples = 5, gapMs = 300) {
  process.kill(pid, 'SIGUSR2');
  await sleep(500);
  const values = [];
  for (let i = 0; i < samples; i++) {
    values.push(rssKiB(pid));
    if (i < samples - 1) await sleep(gapMs);
  }
  return median(values);
}

function startWorker() {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox = [];
  const waiters = [];
  child.on('message', (msg) => {
    const i = waiters.findIndex((w) => w.type === msg.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else inbox.push(msg);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const next = (type, timeoutMs) =>
    new Promise((resolve, reject) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return resolve(inbox.splice(i, 1)[0]);
      const timer = setTimeout(() => reject(new Error(`idle worker: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  return {
    child,
    exited,
    next,
    request(msg, replyType, timeoutMs) {
      child.send(msg);
      return next(replyType, timeoutMs);
    },
  };
}

export async function runW4({ cpuProfDir, params = W4 } = {}) {
  const limits = fileLimits();
  // Each client process keeps ~200 descriptors spare; the server needs one per connection plus its own.
  const perWorker = Math.min(params.perWorkerMax, limits.soft - 200);
  if (perWorker < 100) throw new Error(`ulimit -n ${limits.soft} is too small for the W4 client processes`);
  const workerCount = Math.ceil(params.connections / perWorker);
  const server = await startServer({
    cpuProfDir,
    minFiles: params.connections + 1024,
    env: { BIMIP_IDLE_TIMEOUT_SECONDS: '600' },
    gcOnSignal: true,
  });
  const workers = [];
  try {
    // Warm-up: 50 connections opened and closed, so RSS "before" includes the code paths' own memory.
    const warm = [];
    for (let i = 0; i < params.warmup; i++) {
      const client = await BimipConnection.connect({ url: server.url, token: await token(`w4-warmup-${i}@bench`) });
      await client.caughtUp;
      warm.push(client);
    }
    await Promise.all(warm.map((c) => c.close()));
    await sleep(1000);
    const tokens = [];
    for (let i = 0; i < params.connections; i++) tokens.push(await token(`w4-u${i}@bench`, 'd1', 3600));
    const rssBefore = await sampleRss(server.pid);
    const metricsBefore = await scrapeMetrics(server.port);

    for (let w = 0; w < workerCount; w++) workers.push(startWorker());
    await Promise.all(workers.map((w) => w.next('ready', 10_000)));
    const share = Math.ceil(params.connections / workerCount);
    const start = performance.now();
    const connected = await Promise.all(
      workers.map((w, i) =>
        w.request(
          { type: 'connect', url: server.url, tokens: tokens.slice(i * share, (i + 1) * share), concurrency: Math.ceil(params.concurrency / workerCount) },
          'connected',
          240_000,
        ),
      ),
    );
    const connectMs = performance.now() - start;
    const ok = connected.reduce((a, r) => a + r.ok, 0);
    const failed = connected.reduce((a, r) => a + r.failed, 0);
    await sleep(2000);
    const rssAfter = await sampleRss(server.pid);
    const status = await Promise.all(workers.map((w) => w.request({ type: 'status' }, 'status', 10_000)));
    const openAtMeasure = status.reduce((a, s) => a + s.open, 0);
    const metrics = await scrapeMetrics(server.port);

    const closed = await Promise.all(workers.map((w) => w.request({ type: 'close' }, 'closed', 60_000)));
    await Promise.all(workers.map((w) => w.exited));
    await sleep(1000);
    const afterClose = await scrapeMetrics(server.port);
    return {
      load: `SDK (BimipConnection) in ${workerCount} child process(es), ${params.concurrency} concurrent connects; ulimit -n soft ${limits.soft}, hard ${limits.hard}`,
      connections: ok,
      failed,
      firstError: connected.find((r) => r.firstError)?.firstError,
      connectMs,
      connectsPerSec: ok / (connectMs / 1000),
      openAtMeasure,
      rssBeforeKiB: rssBefore,
      rssAfterKiB: rssAfter,
      kibPerConnection: (rssAfter - rssBefore) / ok,
      // The JS heap's share (V8 used bytes after the full GC of the RSS sample).
      heapKibPerConnection: (metrics.heapUsedBytes - metricsBefore.heapUsedBytes) / 1024 / ok,
      rssAfterCloseKiB: rssKiB(server.pid),
      serverConnectionsGauge: metrics?.connections,
      serverConnectionsAfterClose: afterClose?.connections,
      notClosedByClients: closed.reduce((a, c) => a + c.open, 0),
      serverHealthy: await server.healthy(),
      serverLog: summarizeLog(server.log),
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await server.stop();
  }
}
