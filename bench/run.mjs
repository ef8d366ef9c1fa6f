#!/usr/bin/env node
/**
 * BIMIP benchmark runner: each scenario N times (default 3), each run on a fresh server process
 * and a fresh temp data dir; prints per-run figures and medians and writes docs/benchmarks.md.
 *
 *   node bench/run.mjs [--only W1,W3] [--runs N] [--profile] [--no-doc] [--quiet-wait SECONDS] [--cluster]
 *
 * --cluster      two nodes on this box sharing PostgreSQL and Redis (fresh schema and key prefix per
 *                run; see lib/cluster.mjs): W1–W3 with senders on node 1 and receivers on node 2
 *                (W4 is skipped); writes docs/benchmarks-cluster.md and its summary section in
 *                docs/benchmarks.md instead of the embedded sections.
 * --profile      after the measured runs, one extra run per scenario with the server under
 *                `node --cpu-prof` (not counted); prints the top functions by self time.
 * --no-doc       do not write docs/benchmarks.md.
 * --quiet-wait   before each run, wait up to this many seconds for the (shared) machine to go
 *                quiet (< 0.3 cores busy); default 60, 0 = do not wait.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMeter, machineInfo, waitForQuiet } from './lib/machine.mjs';
import { formatProfile, summarizeProfile } from './lib/profile.mjs';
import { POSTGRES_URL, REDIS_URL } from './lib/cluster.mjs';
import { ROOT, listProfiles } from './lib/server.mjs';
import { fmt, median } from './lib/util.mjs';
import { runW1 } from './w1-throughput.mjs';
import { runW2 } from './w2-latency.mjs';
import { runW3 } from './w3-catchup.mjs';
import { runW4 } from './w4-idle.mjs';

const SCENARIOS_NAMES = ['W1', 'W2', 'W3', 'W4'];
const args = parseArgs(process.argv.slice(2));

/** Two decimals below 1,000, none above. */
const num = (v) => fmt(v, Math.abs(v) < 1000 ? 2 : 0);

const SCENARIOS = {
  W1: {
    title: 'W1 throughput (50 pairs × 32 in flight, 10 s)',
    run: runW1,
    line: (r) =>
      `acked ${fmt(r.ackedPerSec)} msg/s, delivered ${fmt(r.deliveredPerSec)} msg/s, lost ${r.lost}, ` +
      `dup ${r.duplicateOffsets} (stored twice ${r.storedTwice}), out-of-order ${r.outOfOrder}, gaps ${r.gaps}, ` +
      `ack failures ${JSON.stringify(r.ackFailures)}, drain ${fmt(r.drainMs)} ms, ` +
      `server CPU ${fmt(r.serverCpuCores, 2)} cores (${fmt(r.serverCpuUsPerMsg, 1)} µs/msg), bench CPU ${fmt(r.benchCpuCores, 2)}, ` +
      `commit batch ${fmt(r.store?.meanBatchSize)} avg / ${fmt(r.store?.meanCommitMs, 1)} ms avg`,
    medians: {
      ackedPerSec: 'acked msg/s',
      deliveredPerSec: 'delivered msg/s',
      drainMs: 'drain ms',
      serverCpuCores: 'server CPU cores',
      serverCpuUsPerMsg: 'server CPU µs/msg',
    },
    sums: { lost: 'lost', duplicateOffsets: 'duplicated (same offset)', storedTwice: 'stored twice', outOfOrder: 'out of order', gaps: 'gaps' },
    target: {
      text: '≥ 40,000 durable (acked) msg/s, ≤ 25 µs server CPU per delivered message, 0 lost / duplicated / out-of-order',
      check: (m, s) =>
        m.ackedPerSec >= 40_000 && m.serverCpuUsPerMsg <= 25 && s.lost === 0 && s.duplicateOffsets === 0 && s.storedTwice === 0 && s.outOfOrder === 0,
      value: (m, s) =>
        `${fmt(m.ackedPerSec)} msg/s, ${fmt(m.serverCpuUsPerMsg, 1)} µs CPU/msg; lost ${s.lost}, dup ${s.duplicateOffsets + s.storedTwice}, out-of-order ${s.outOfOrder} (all runs)`,
    },
  },
  W2: {
    title: 'W2 latency (2,000 msg/s offered: 20 pairs × 100 msg/s, 10 s)',
    run: runW2,
    line: (r) =>
      `offered ${fmt(r.offeredPerSec)} msg/s, send→deliver p50 ${fmt(r.p50, 2)} ms, p90 ${fmt(r.p90, 2)}, p99 ${fmt(r.p99, 2)}, ` +
      `max ${fmt(r.max, 2)}; send→ack p50 ${fmt(r.ackP50, 2)} p99 ${fmt(r.ackP99, 2)}; lost ${r.lost}, dup ${r.duplicateOffsets}, ` +
      `out-of-order ${r.outOfOrder}; late sends ${r.lateSends}; bench loop delay p99 ${fmt(r.benchLoopDelayP99Ms, 1)} max ${fmt(r.benchLoopDelayMaxMs, 1)} ms; ` +
      `server loop delay (10 ms sampling) p99 ${fmt(r.store?.loopLagP99Ms, 1)} max ${fmt(r.store?.loopLagMaxMs, 1)} ms; ` +
      `store commits ${fmt(r.store?.commitBatches)} × ${fmt(r.store?.meanBatchSize, 1)} msgs, ${fmt(r.store?.meanCommitMs, 2)} ms avg, ` +
      `${r.store?.commitOver2_5ms} over 2.5 ms, ${r.store?.commitOver5ms} over 5 ms; server CPU ${fmt(r.serverCpuCores, 2)} (${fmt(r.serverCpuUsPerMsg, 0)} µs/msg)`,
    medians: {
      offeredPerSec: 'offered msg/s',
      p50: 'p50 ms',
      p99: 'p99 ms',
      max: 'max ms',
      ackP99: 'send→ack p99 ms',
      serverLoopDelayP99Ms: 'server loop delay p99 ms',
      serverCpuUsPerMsg: 'server CPU µs/msg',
    },
    sums: { lost: 'lost', duplicateOffsets: 'duplicated', outOfOrder: 'out of order' },
    target: {
      text: 'at 2,000 msg/s: p99 send→deliver ≤ 2.5 ms, max ≤ 10 ms; server event-loop delay p99 ≤ 2 ms; ≤ 80 µs server CPU per message',
      check: (m) => m.p99 <= 2.5 && m.max <= 10 && m.serverLoopDelayP99Ms <= 2 && m.serverCpuUsPerMsg <= 80,
      value: (m) =>
        `p99 ${fmt(m.p99, 2)} ms (p50 ${fmt(m.p50, 2)}), max ${fmt(m.max, 1)} ms; loop delay p99 ${fmt(m.serverLoopDelayP99Ms, 1)} ms; ${fmt(m.serverCpuUsPerMsg, 0)} µs CPU/msg`,
    },
  },
  W3: {
    title: 'W3 catch-up (10,000 entries for an offline device)',
    run: runW3,
    line: (r) =>
      `raw client ${fmt(r.raw.ms, 1)} ms (first entry ${fmt(r.raw.firstMs, 1)} ms, marker ${fmt(r.raw.markerMs, 1)} ms, ` +
      `received ${r.raw.received}, out-of-order ${r.raw.outOfOrder}); SDK ${fmt(r.sdk.ms, 1)} ms (marker ${fmt(r.sdk.markerMs, 1)} ms, received ${r.sdk.received}); ` +
      `stored ${fmt(r.raw.storedPerSec)} / ${fmt(r.sdk.storedPerSec)} msg/s`,
    medians: { rawMs: 'raw client ms', ms: 'SDK ms', storedPerSec: 'stored msg/s' },
    sums: {},
    target: {
      text: '10,000 entries caught up in ≤ 60 ms, committing every 64 (graded on the raw client; the SDK figure is shown beside it); stored at ≥ 20,000 msg/s by one sender with 32 in flight',
      check: (m) => m.rawMs <= 60 && m.storedPerSec >= 20_000,
      value: (m) => `raw ${fmt(m.rawMs, 1)} ms (SDK ${fmt(m.ms, 1)} ms); stored ${fmt(m.storedPerSec)} msg/s`,
    },
  },
  W4: {
    title: 'W4 idle connections (10,000)',
    run: runW4,
    line: (r) =>
      `${fmt(r.kibPerConnection, 2)} KiB/connection (JS heap ${fmt(r.heapKibPerConnection, 2)}; RSS ${fmt(r.rssBeforeKiB)} → ${fmt(r.rssAfterKiB)} KiB; after close ${fmt(r.rssAfterCloseKiB)} KiB), ` +
      `${r.connections} connected, ${r.failed} failed, ${r.openAtMeasure} open at measure, connect ${fmt(r.connectMs)} ms (${fmt(r.connectsPerSec)} conn/s), ` +
      `server gauge ${r.serverConnectionsGauge} → ${r.serverConnectionsAfterClose} after close`,
    medians: { kibPerConnection: 'KiB per connection', rssBeforeKiB: 'RSS before KiB', rssAfterKiB: 'RSS after KiB', connectsPerSec: 'connects/s' },
    sums: { failed: 'failed connects' },
    target: {
      text: '≤ 8 KiB server RSS per idle authenticated connection at 10,000 connections',
      check: (m, s) => m.kibPerConnection <= 8 && s.failed === 0,
      value: (m) => `${fmt(m.kibPerConnection, 2)} KiB`,
    },
  },
};

/** Per-node and backend CPU of a cluster run (absent figures are left out). */
function clusterCpu(r) {
  if (r.node1CpuCores === undefined) return '';
  return (
    `; CPU node 1 ${fmt(r.node1CpuCores, 2)} + node 2 ${fmt(r.node2CpuCores, 2)} cores, ` +
    `PostgreSQL ${fmt(r.pgCpuCores, 2)}, Redis ${fmt(r.redisCpuCores, 2)}`
  );
}

const CLUSTER_CPU_MEDIANS = { node1CpuCores: 'node 1 CPU', node2CpuCores: 'node 2 CPU', pgCpuCores: 'PostgreSQL CPU', redisCpuCores: 'Redis CPU' };

/** Cluster mode: 2 nodes, shared PostgreSQL + Redis; same figures, cluster targets, no W4. */
const CLUSTER_SCENARIOS = {
  W1: {
    ...SCENARIOS.W1,
    title: 'W1 cluster throughput (50 pairs × 32 in flight, 10 s; senders on node 1, receivers on node 2)',
    line: (r) => SCENARIOS.W1.line(r) + clusterCpu(r),
    medians: { ...SCENARIOS.W1.medians, ...CLUSTER_CPU_MEDIANS },
    target: {
      ...SCENARIOS.W1.target,
      text: '≥ 15,000 durable (acked) msg/s with 0 lost / duplicated / out-of-order',
      check: (m, s) => m.ackedPerSec >= 15_000 && s.lost === 0 && s.duplicateOffsets === 0 && s.storedTwice === 0 && s.outOfOrder === 0,
    },
  },
  W2: {
    ...SCENARIOS.W2,
    title: 'W2 cluster latency (2,000 msg/s offered: 20 pairs × 100 msg/s, 10 s; senders on node 1, receivers on node 2)',
    line: (r) =>
      `${SCENARIOS.W2.line(r)}${clusterCpu(r)}; node 2 loop lag p99 ${fmt(r.nodeMetrics?.[1]?.loopLagP99Ms, 1)} max ${fmt(r.nodeMetrics?.[1]?.loopLagMaxMs, 1)} ms`,
    medians: { ...SCENARIOS.W2.medians, ...CLUSTER_CPU_MEDIANS },
    target: {
      ...SCENARIOS.W2.target,
      text: 'p99 send→deliver ≤ 10 ms at 2,000 msg/s',
      check: (m) => m.p99 <= 10,
    },
  },
  W3: {
    ...SCENARIOS.W3,
    title: 'W3 cluster catch-up (10,000 entries queued through node 1, caught up on node 2)',
    target: {
      text: '10,000 entries ≤ 200 ms (graded on the raw client; the SDK figure is shown beside it)',
      check: (m) => m.rawMs <= 200,
      value: (m) => `raw ${fmt(m.rawMs, 1)} ms; SDK ${fmt(m.ms, 1)} ms; stored ${fmt(m.storedPerSec)} msg/s`,
    },
  },
};

async function main() {
  const machine = machineInfo();
  const table = args.cluster ? CLUSTER_SCENARIOS : SCENARIOS;
  let names = args.only ?? Object.keys(table);
  if (args.cluster) {
    const skipped = names.filter((n) => !table[n]);
    if (skipped.length) console.log(`cluster mode: skipping ${skipped.join(', ')} (not measured in cluster mode)`);
    names = names.filter((n) => table[n]);
    if (names.length === 0) throw new Error('nothing to run in cluster mode (W1, W2, W3)');
    console.log(`cluster mode: 2 nodes on this box; PostgreSQL ${POSTGRES_URL}, Redis ${REDIS_URL}; fresh schema and key prefix per run`);
  }
  console.log(`BIMIP benchmarks — ${machine.date}`);
  console.log(
    `${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB.toFixed(1)} GiB RAM, Node ${machine.node}, commit ${machine.commit}${machine.srcDirty ? ' (src has uncommitted changes)' : ''}`,
  );
  console.log(`runs per scenario: ${args.runs}; scenarios: ${names.join(', ')}\n`);
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');

  const results = {};
  for (const name of names) {
    const scenario = table[name];
    console.log(`== ${scenario.title}`);
    const runs = [];
    for (let i = 1; i <= args.runs; i++) {
      const quiet = args.quietWaitMs > 0 ? await waitForQuiet({ maxWaitMs: args.quietWaitMs }) : undefined;
      const meter = loadMeter();
      let result;
      let error;
      try {
        result = await scenario.run({ cluster: args.cluster });
      } catch (err) {
        error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      }
      const load = meter.stop();
      const run = { index: i, result, error, otherCores: load.otherCores, wallSeconds: load.wallSeconds, busyBefore: quiet?.busyCores };
      runs.push(run);
      if (error) console.log(`  run ${i}: FAILED — ${error}`);
      else {
        console.log(`  run ${i}: ${scenario.line(result)}`);
        const log = result.serverLog;
        const health = result.serverHealthy === false ? ' SERVER NOT HEALTHY;' : '';
        console.log(
          `         [${result.load}; other processes used ${fmt(load.otherCores, 2)} cores during the run;${health} server log warn/error/fatal ${log?.warn}/${log?.error}/${log?.fatal}]`,
        );
        if (log?.sample?.length) for (const line of log.sample) console.log(`         server: ${line}`);
      }
    }
    const ok = runs.filter((r) => r.result);
    const medians = Object.fromEntries(Object.keys(scenario.medians).map((k) => [k, median(ok.map((r) => r.result[k]))]));
    const sums = Object.fromEntries(Object.keys(scenario.sums).map((k) => [k, ok.reduce((a, r) => a + (r.result[k] ?? 0), 0)]));
    const pass = ok.length === runs.length && ok.length > 0 && scenario.target.check(medians, sums);
    results[name] = { runs, medians, sums, pass };
    console.log(
      `  median: ${Object.entries(scenario.medians)
        .map(([k, label]) => `${label} ${num(medians[k])}`)
        .join(', ')}`,
    );
    console.log(`  target: ${scenario.target.text} → ${pass ? 'PASS' : 'MISS'} (${scenario.target.value(medians, sums)})\n`);
  }

  let profiles;
  if (args.profile) profiles = await profileRuns(names, table);

  if (args.doc && args.cluster) {
    const path = join(ROOT, 'docs', 'benchmarks-cluster.md');
    writeFileSync(path, renderDoc(machine, names, results, profiles, table));
    console.log(`wrote ${path}`);
    const main = join(ROOT, 'docs', 'benchmarks.md');
    const text = existsSync(main) ? readFileSync(main, 'utf8') : '# BIMIP benchmarks\n';
    writeFileSync(main, withClusterSection(text, renderClusterSummary(machine, names, results, table)));
    console.log(`updated the cluster section of ${main}`);
  } else if (args.doc) {
    const path = join(ROOT, 'docs', 'benchmarks.md');
    // Keep the cluster section (written by `--cluster` runs) when the embedded figures are rewritten.
    const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const cluster = CLUSTER_SECTION.exec(old)?.[0];
    const doc = renderDoc(machine, names, results, profiles, table);
    writeFileSync(path, cluster ? withClusterSection(doc, cluster) : doc);
    console.log(`wrote ${path}`);
  }
}

const CLUSTER_BEGIN = '<!-- cluster:begin (written by `node bench/run.mjs --cluster`) -->';
const CLUSTER_END = '<!-- cluster:end -->';
const CLUSTER_SECTION = /<!-- cluster:begin[^\n]*-->[\s\S]*?<!-- cluster:end -->/;

/** Replaces the marked cluster section of `doc`, or appends it. `section` includes the markers. */
function withClusterSection(doc, section) {
  if (CLUSTER_SECTION.test(doc)) return doc.replace(CLUSTER_SECTION, () => section);
  return `${doc.replace(/\n*$/, '')}\n\n${section}\n`;
}

function renderClusterSummary(machine, names, results, table) {
  const L = [CLUSTER_BEGIN, '## Cluster mode', ''];
  L.push(
    `Two nodes on this box sharing PostgreSQL and Redis (\`node bench/run.mjs --cluster\`, ${machine.date}, commit \`${machine.commit}\`, ` +
      `${args.runs} runs per scenario); senders on node 1, receivers on node 2. Details, per-run figures and CPU per node: ` +
      '[benchmarks-cluster.md](benchmarks-cluster.md).',
    '',
  );
  L.push('| scenario | target | median result | verdict |', '|---|---|---|---|');
  for (const name of names) {
    const s = table[name];
    const r = results[name];
    L.push(`| ${name} | ${s.target.text} | ${s.target.value(r.medians, r.sums)} | **${r.pass ? 'pass' : 'miss'}** |`);
  }
  L.push('', CLUSTER_END);
  return L.join('\n');
}

async function profileRuns(names, table) {
  const out = {};
  for (const name of names) {
    const dir = mkdtempSync(join(tmpdir(), `bimip-prof-${name}-`));
    try {
      console.log(`== profiling ${name} (server under --cpu-prof; not counted)`);
      if (args.quietWaitMs > 0) await waitForQuiet({ maxWaitMs: args.quietWaitMs });
      let pids = [];
      const result = await table[name].run({ cpuProfDir: dir, cluster: args.cluster, onServer: (s) => pids.push(s.pid) });
      console.log(`  ${table[name].line(result)}`);
      if (pids.length < 2) pids = [];
      const nodeOf = (file) => {
        const i = pids.findIndex((pid) => file.includes(`.${pid}.`));
        return i >= 0 ? `node ${i + 1} ` : '';
      };
      const summaries = listProfiles(dir).map((p) => {
        const summary = summarizeProfile(p, 12);
        return { ...summary, file: `${nodeOf(summary.file)}${summary.file}` };
      });
      // The main thread is the profile with the most busy time unless the writer worker outworked it.
      for (const s of summaries) console.log(formatProfile(s));
      out[name] = summaries;
    } catch (err) {
      console.log(`  profiling ${name} failed: ${err.message}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log('');
  }
  return out;
}

function renderDoc(machine, names, results, profiles, table = SCENARIOS) {
  const L = [];
  if (args.cluster) {
    L.push('# BIMIP benchmarks — cluster mode', '');
    L.push(
      'Generated by `node bench/run.mjs --cluster` (`npm run bench -- --cluster`); see `bench/README.md` for what each scenario does. ' +
        'Each run starts two `bimip serve` nodes on this machine, sharing one PostgreSQL (a fresh schema per run, dropped afterwards) and one Redis ' +
        '(a fresh key prefix per run, deleted afterwards). Senders connect to node 1 and receivers to node 2, so every message is committed to PostgreSQL by node 1 ' +
        'and reaches node 2 through a Redis notice. W4 (idle connections) is not measured in cluster mode. Embedded-mode figures: [benchmarks.md](benchmarks.md).',
      '',
    );
  } else {
    L.push('# BIMIP benchmarks', '');
    L.push('Generated by `npm run bench` (`node bench/run.mjs`); see `bench/README.md` for what each scenario does.', '');
  }
  L.push('| | |', '|---|---|');
  L.push(`| date | ${machine.date} |`);
  L.push(`| machine | ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB.toFixed(1)} GiB RAM, ${machine.platform} |`);
  L.push(`| node | ${machine.node} |`);
  L.push(`| commit | \`${machine.commit}\`${machine.srcDirty ? ' (src/ had uncommitted changes when run)' : ''} |`);
  L.push(
    args.cluster
      ? `| runs | ${args.runs} per scenario, each on two fresh server processes, a fresh PostgreSQL schema and a fresh Redis key prefix |`
      : `| runs | ${args.runs} per scenario, each on a fresh server process and a fresh temp data dir |`,
  );
  if (args.cluster) L.push(`| backends | PostgreSQL \`${POSTGRES_URL}\`, Redis \`${REDIS_URL}\` (same machine) |`);
  L.push('');
  L.push(
    'The server and the load generator share this machine’s cores (the load runs in a separate process from the server, over loopback). ' +
      'The cores are also shared with other work: each run lists “other load”, the CPU used by processes other than the benchmark and its server during the run. ' +
      'Figures taken while other load was high are pessimistic.' +
      (args.cluster
        ? ' In cluster mode “other load” includes PostgreSQL and Redis (not children of the bench); their CPU during the measured window is listed separately.'
        : ''),
    '',
  );
  L.push('## Targets', '', '| scenario | target | median result | verdict |', '|---|---|---|---|');
  for (const name of names) {
    const s = table[name];
    const r = results[name];
    L.push(`| ${name} | ${s.target.text} | ${s.target.value(r.medians, r.sums)} | **${r.pass ? 'pass' : 'miss'}** |`);
  }
  L.push('');
  for (const name of names) {
    const s = table[name];
    const r = results[name];
    L.push(`## ${s.title}`, '');
    const load = r.runs.find((x) => x.result)?.result.load;
    if (load) L.push(`Load generator: ${load}.`, '');
    L.push(
      `Medians: ${Object.entries(s.medians)
        .map(([k, label]) => `${label} **${num(r.medians[k])}**`)
        .join(', ')}.`,
    );
    if (Object.keys(s.sums).length)
      L.push(
        `Totals over all runs: ${Object.entries(s.sums)
          .map(([k, label]) => `${label} ${r.sums[k]}`)
          .join(', ')}.`,
      );
    L.push('');
    for (const run of r.runs) {
      if (run.error) L.push(`- run ${run.index}: **failed** — \`${run.error.split('\n')[0]}\``);
      else L.push(`- run ${run.index}: ${s.line(run.result)}; other load ${fmt(run.otherCores, 2)} cores.`);
      const log = run.result?.serverLog;
      if (log && (log.warn || log.error || log.fatal))
        L.push(`  - server log: ${log.warn} warn, ${log.error} error, ${log.fatal} fatal; first: \`${(log.sample[0] ?? '').slice(0, 200)}\``);
    }
    L.push('');
  }
  if (profiles && Object.keys(profiles).length) {
    L.push('## Where the server’s time goes (`node --cpu-prof`, one extra run per scenario)', '');
    for (const [name, summaries] of Object.entries(profiles)) {
      L.push(`### ${name}`, '', '```');
      for (const summary of summaries) L.push(formatProfile(summary));
      L.push('```', '');
    }
  }
  return L.join('\n');
}

function parseArgs(argv) {
  const out = { runs: 3, only: undefined, profile: false, doc: true, quietWaitMs: 60_000, cluster: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') out.only = argv[++i].split(',').map((s) => s.trim().toUpperCase());
    else if (a === '--runs') out.runs = Math.max(1, Math.min(20, Number(argv[++i]) || 3));
    else if (a === '--profile') out.profile = true;
    else if (a === '--no-doc') out.doc = false;
    else if (a === '--cluster') out.cluster = true;
    else if (a === '--quiet-wait') out.quietWaitMs = Math.max(0, Number(argv[++i]) || 0) * 1000;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--only W1,W2,W3,W4] [--runs N] [--profile] [--no-doc] [--quiet-wait SECONDS] [--cluster]');
      process.exit(0);
    } else {
      console.error(`unknown argument: ${a}`);
      process.exit(2);
    }
  }
  for (const name of out.only ?? []) {
    if (!SCENARIOS_NAMES.includes(name)) {
      console.error(`unknown scenario ${name}; expected one of ${SCENARIOS_NAMES.join(', ')}`);
      process.exit(2);
    }
  }
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
