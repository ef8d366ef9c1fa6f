/**
 * Spawns one `bimip serve` process on a fresh temp data dir (loopback only), waits until /healthz
 * answers, and stops it again. Only the PID spawned here is ever signalled.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync, mkdirSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
export const JWT_SECRET = 'bench-secret-0123456789abcdef';

/** Asks the OS for a free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Soft and hard `ulimit -n` as inherited by processes spawned from here. */
export function fileLimits() {
  const out = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
  const parse = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: parse(out[0]), hard: parse(out[1]) };
}

function healthz(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** VmRSS of a process in KiB (Linux /proc). */
export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) : NaN;
}

/** CPU time (user+system) of a process in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (after the comm field, 0-based from state)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Diagnostics knobs (environment of the bench process):
 *   BENCH_SERVER_NODE_ARGS  extra node flags for the server, space-separated (e.g. "--trace-gc")
 *   BENCH_SERVER_LOG        append everything the server prints to this file
 *
 * Starts a server. Options: env (extra BIMIP_* vars), minFiles (raise the soft fd limit of the
 * server to at least this, via `sh -c 'ulimit -n N; exec node …'`), cpuProfDir (run with --cpu-prof),
 * gcOnSignal (SIGUSR2 makes the server run a full GC: lib/gc-on-signal.cjs).
 */
export async function startServer({ env = {}, minFiles = 0, cpuProfDir, gcOnSignal = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bimip-bench-'));
  const port = await freePort();
  const nodeArgs = [];
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`);
  }
  if (gcOnSignal) nodeArgs.push('--expose-gc', '--require', join(ROOT, 'bench', 'lib', 'gc-on-signal.cjs'));
  if (process.env.BENCH_SERVER_NODE_ARGS) nodeArgs.push(...process.env.BENCH_SERVER_NODE_ARGS.split(/\s+/).filter(Boolean));
  nodeArgs.push(MAIN, 'serve');
  const fullEnv = {
    ...process.env,
    BIMIP_PORT: String(port),
    BIMIP_HOST: '127.0.0.1',
    BIMIP_DATA_DIR: dataDir,
    BIMIP_JWT_SECRET: JWT_SECRET,
    BIMIP_RATE_LIMIT: '0',
    BIMIP_LOG_LEVEL: 'warn',
    ...env,
  };
  let command = process.execPath;
  let args = nodeArgs;
  if (minFiles > 0) {
    const { soft, hard } = fileLimits();
    if (soft < minFiles) {
      if (hard < minFiles) throw new Error(`server needs ${minFiles} file descriptors; ulimit -Hn is ${hard}`);
      // exec keeps the PID: the child we signal is the node process itself.
      command = 'sh';
      args = ['-c', `ulimit -n ${minFiles} && exec "$0" "$@"`, process.execPath, ...nodeArgs];
    }
  }
  const child = spawn(command, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = { lines: [], warn: 0, error: 0, fatal: 0, other: 0 };
  const logFile = process.env.BENCH_SERVER_LOG;
  const collect = (chunk) => {
    if (logFile) appendFileSync(logFile, chunk);
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      let level = 'other';
      try {
        const parsed = JSON.parse(line);
        level = parsed.level >= 60 ? 'fatal' : parsed.level >= 50 ? 'error' : parsed.level >= 40 ? 'warn' : 'other';
      } catch {
        /* plain text (stderr) */
      }
      log[level]++;
      if (log.lines.length < 20) log.lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    }),
  );

  const deadline = Date.now() + 20_000;
  while (!(await healthz(port))) {
    if (exited) throw new Error(`server exited during start (${JSON.stringify(exited)}): ${log.lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server did not answer /healthz within 20 s');
    }
    await sleep(50);
  }

  return {
    pid: child.pid,
    port,
    url: `ws://127.0.0.1:${port}/bimip`,
    dataDir,
    log,
    get exited() {
      return exited;
    },
    healthy: () => healthz(port),
    /** SIGTERM (graceful, lets --cpu-prof write its file), SIGKILL after `graceMs`; removes the data dir. */
    async stop(graceMs = 10_000) {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, graceMs);
        await exitPromise;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
      return exited;
    },
  };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function listProfiles(dir) {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** GET /metrics and pull out the store's group-commit histograms (sum/count) and a few counters. */
export function scrapeMetrics(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(parseMetrics(body)));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

/** Observations of histogram `name` above bucket bound `le` (count − cumulative count at le). */
function bucketAbove(text, name, le) {
  const count = new RegExp(`^${name}_count ([0-9.e+-]+)$`, 'm').exec(text);
  const bucket = new RegExp(`^${name}_bucket\\{le="${le}"\\} ([0-9.e+-]+)$`, 'm').exec(text);
  return count && bucket ? Number(count[1]) - Number(bucket[1]) : NaN;
}

/** prom-client's default `eventLoopMonitoringPrecision` (the server does not change it). */
const LOOP_SAMPLING_MS = 10;

function parseMetrics(text) {
  const value = (name) => {
    const match = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  };
  const batches = value('bimip_commit_batch_size_count');
  const latencyCount = value('bimip_commit_latency_seconds_count');
  return {
    commitBatches: batches,
    meanBatchSize: value('bimip_commit_batch_size_sum') / batches,
    meanCommitMs: (value('bimip_commit_latency_seconds_sum') / latencyCount) * 1000,
    messagesStored: value('bimip_messages_stored_total'),
    connections: value('bimip_connections'),
    heapUsedBytes: value('nodejs_heap_size_used_bytes'),
    // Event-loop delay of the server's main thread since the last scrape. prom-client samples it
    // with monitorEventLoopDelay({ resolution: 10 }), whose histogram records the whole interval
    // between two timer runs (an idle loop reads ~10 ms), so the sampling interval is subtracted
    // here to get the delay itself (prom-client issue #370).
    loopLagP99Ms: Math.max(0, value('nodejs_eventloop_lag_p99_seconds') * 1000 - LOOP_SAMPLING_MS),
    loopLagMaxMs: Math.max(0, value('nodejs_eventloop_lag_max_seconds') * 1000 - LOOP_SAMPLING_MS),
    commitOver25ms: bucketAbove(text, 'bimip_commit_latency_seconds', '0.025'),
    commitOver5ms: bucketAbove(text, 'bimip_commit_latency_seconds', '0.005'),
    commitOver2_5ms: bucketAbove(text, 'bimip_commit_latency_seconds', '0.0025'),
  };
}
