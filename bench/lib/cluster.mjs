/**
 * Cluster mode for the benchmarks: N `bimip serve` nodes on this box sharing one PostgreSQL and one
 * Redis. Every run gets a fresh PostgreSQL schema (`bimip_bench_<random>`) and a fresh Redis key
 * prefix; afterwards the schema's sessions are terminated (found by `application_name=<schema>`,
 * which the nodes' connection URL carries), the schema is dropped and the prefix's keys deleted.
 *
 *   BENCH_POSTGRES_URL  default postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_REDIS_URL     default redis://127.0.0.1:6379/0
 *
 * `startNodes({ cluster })` is what the scenarios call: embedded mode gives one server that is both
 * the send and the receive node; cluster mode gives node 1 (senders) and node 2 (receivers).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cpuSeconds, scrapeMetrics, startServer } from './server.mjs';

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

async function withPg(fn) {
  const client = new pg.Client({ connectionString: POSTGRES_URL, application_name: 'bimip-bench-admin', connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** All processes whose parent is `ppid` (Linux /proc), with their CPU seconds. */
function childrenCpu(ppid) {
  const out = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === ppid) out.set(Number(entry), (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * A fresh schema + Redis prefix. Returns { schema, prefix, env (for the nodes), cpu() (PostgreSQL
 * and Redis CPU seconds so far), cleanup() }.
 */
export async function createBackends() {
  const id = randomBytes(5).toString('hex');
  const schema = `bimip_bench_${id}`;
  const prefix = `bimip-bench-${id}:`;
  let postmaster;
  await withPg(async (c) => {
    await c.query(`CREATE SCHEMA ${schema}`);
    // The postmaster is the parent of every backend: its children's CPU is PostgreSQL's CPU.
    const { rows } = await c.query('SELECT pg_backend_pid() AS pid');
    try {
      const stat = readFileSync(`/proc/${rows[0].pid}/stat`, 'utf8');
      postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      postmaster = undefined; // PostgreSQL is not on this box (or not visible): no CPU figure
    }
  });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();

  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  url.searchParams.set('application_name', schema); // the URL's value wins over the node's default

  return {
    schema,
    prefix,
    env: { BIMIP_POSTGRES_URL: url.toString(), BIMIP_REDIS_URL: REDIS_URL, BIMIP_REDIS_PREFIX: prefix },
    /** { pg: Map pid→seconds | undefined, redis: seconds } */
    async cpu() {
      const info = await redis.info('cpu').catch(() => '');
      const v = (k) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
      return { pg: postmaster ? childrenCpu(postmaster) : undefined, redis: v('used_cpu_user') + v('used_cpu_sys') };
    },
    async cleanup() {
      const errors = [];
      try {
        await withPg(async (c) => {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [schema]);
          await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        });
      } catch (err) {
        errors.push(`drop schema ${schema}: ${err.message}`);
      }
      try {
        let cursor = '0';
        for (let i = 0; i < 10_000; i++) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      } catch (err) {
        errors.push(`redis cleanup ${prefix}: ${err.message}`);
      }
      redis.disconnect();
      if (errors.length) console.error(`  cluster cleanup: ${errors.join('; ')}`);
    },
  };
}

/** Cores used between two `cpu()` readings over `seconds`. */
export function backendCores(a, b, seconds) {
  let pgSeconds = NaN;
  if (a.pg && b.pg) {
    pgSeconds = 0;
    for (const [pid, s] of b.pg) pgSeconds += s - (a.pg.get(pid) ?? 0);
  }
  return { pgCpuCores: pgSeconds / seconds, redisCpuCores: (b.redis - a.redis) / seconds };
}

/**
 * Embedded: one server ({ send, receive } are the same). Cluster: fresh backends and two nodes
 * (node 1 = send, node 2 = receive). `stop()` stops every node by its PID, then cleans up.
 */
export async function startNodes({ cluster = false, cpuProfDir } = {}) {
  if (!cluster) {
    const server = await startServer({ cpuProfDir });
    return {
      cluster: false,
      nodes: [server],
      send: server,
      receive: server,
      cpu: async () => ({ nodes: [cpuSeconds(server.pid)] }),
      stop: () => server.stop(),
    };
  }
  const backends = await createBackends();
  const started = await Promise.allSettled([0, 1].map(() => startServer({ cpuProfDir, env: backends.env })));
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const stop = async () => {
    try {
      await Promise.all(nodes.map((n) => n.stop()));
    } finally {
      await backends.cleanup();
    }
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    cluster: true,
    schema: backends.schema,
    nodes,
    send: nodes[0],
    receive: nodes[1],
    cpu: async () => ({ nodes: nodes.map((n) => cpuSeconds(n.pid)), ...(await backends.cpu()) }),
    stop,
  };
}

/** CPU figures between two `cpu()` readings: serverCpuCores (all nodes) plus per-node and backends. */
export function cpuFigures(a, b, seconds) {
  const perNode = b.nodes.map((s, i) => (s - a.nodes[i]) / seconds);
  const out = { serverCpuCores: perNode.reduce((x, y) => x + y, 0) };
  if (perNode.length > 1) {
    for (const [i, c] of perNode.entries()) out[`node${i + 1}CpuCores`] = c;
    Object.assign(out, backendCores(a, b, seconds));
  }
  return out;
}

/** /metrics of every node: `store` is the send node's (where the commits happen), `nodeMetrics` all. */
export async function scrapeAll(target) {
  const all = await Promise.all(target.nodes.map((n) => scrapeMetrics(n.port)));
  return target.cluster ? { store: all[0], nodeMetrics: all } : { store: all[0] };
}

export async function allHealthy(target) {
  const h = await Promise.all(target.nodes.map((n) => n.healthy()));
  return h.every(Boolean);
}

export function mergeLogs(target, summarize) {
  if (!target.cluster) return summarize(target.nodes[0].log);
  const logs = target.nodes.map((n) => summarize(n.log));
  return {
    warn: logs.reduce((a, l) => a + l.warn, 0),
    error: logs.reduce((a, l) => a + l.error, 0),
    fatal: logs.reduce((a, l) => a + l.fatal, 0),
    other: logs.reduce((a, l) => a + l.other, 0),
    sample: logs.flatMap((l, i) => l.sample.map((s) => `node ${i + 1}: ${s}`)).slice(0, 5),
  };
}
