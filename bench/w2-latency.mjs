/**
 * W2 latency: a fixed offered load of 2,000 msg/s (20 pairs × 100 msg/s) for 10 s, paced by a
 * 1 ms timer against a per-pair schedule (pair i sends its k-th message at (k + i/20) × 10 ms, so
 * the load is spread evenly, not in bursts). The send time (process.hrtime, ns) is embedded in the
 * payload; the receiver computes send→deliver latency on arrival. Receivers commit every 64
 * entries or 50 ms. Load: raw codec + ws in this process.
 */
import { allHealthy, cpuFigures, mergeLogs, scrapeAll, startNodes } from './lib/cluster.mjs';
import { Pair, closePairs, connectPairs, startCommitTimer, totals } from './lib/pairs.mjs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { payloadWithTime, quantile, sendTimeOf, waitFor } from './lib/util.mjs';
import { summarizeLog } from './w1-throughput.mjs';

/** The bench's own event-loop sampling; the histogram records whole intervals, so it is subtracted. */
const LOOP_SAMPLING_MS = 1;

export const W2 = { pairs: 20, ratePerPair: 100, durationMs: 10_000, drainMs: 5_000 };

export async function runW2({ cpuProfDir, params = W2, onServer, cluster = false } = {}) {
  // Cluster: senders on node 1, receivers on node 2.
  const target = await startNodes({ cluster, cpuProfDir });
  for (const server of target.nodes) await onServer?.(server); // diagnostics hook (e.g. attach strace to server.pid)
  const perPair = Math.ceil((params.ratePerPair * params.durationMs) / 1000);
  const pairs = Array.from({ length: params.pairs }, (_, i) => new Pair(i, perPair, 'w2'));
  const latencies = new Float64Array(params.pairs * perPair);
  const ackLatencies = new Float64Array(params.pairs * perPair);
  let latencyCount = 0;
  let ackCount = 0;
  const sentAt = pairs.map(() => new Float64Array(perPair));
  let stopCommits = () => {};
  let pacer;
  try {
    await connectPairs(target.receive.url, pairs, target.send.url);
    stopCommits = startCommitTimer(pairs);
    for (const pair of pairs) {
      pair.onDeliver = (_p, _seq, message) => {
        latencies[latencyCount++] = Number(process.hrtime.bigint() - sendTimeOf(message.payload)) / 1e6;
      };
      pair.onAck = (p, seq) => {
        ackLatencies[ackCount++] = performance.now() - sentAt[p.index][seq];
      };
    }

    await scrapeAll(target); // prom-client resets its event-loop histogram at each scrape: start clean
    const cpuStart = await target.cpu();
    const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLING_MS });
    loopDelay.enable();
    const intervalMs = 1000 / params.ratePerPair;
    const next = pairs.map(() => 0);
    const start = performance.now();
    let lateSends = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const elapsed = performance.now() - start;
        let done = true;
        for (const pair of pairs) {
          const i = pair.index;
          while (next[i] < perPair && (next[i] + i / params.pairs) * intervalMs <= elapsed) {
            const seq = next[i]++;
            if (elapsed - (seq + i / params.pairs) * intervalMs > 5) lateSends++;
            sentAt[i][seq] = performance.now();
            pair.send(seq, payloadWithTime(seq));
          }
          if (next[i] < perPair) done = false;
        }
        if (done || elapsed > params.durationMs + 5_000) resolve();
        else pacer = setTimeout(tick, 1);
      };
      tick();
    });
    const sendSeconds = (performance.now() - start) / 1000;
    const cpu = cpuFigures(cpuStart, await target.cpu(), sendSeconds);
    loopDelay.disable();

    await waitFor(() => pairs.every((p) => p.inFlight === 0 && p.distinctDelivered >= p.ackedCount), params.drainMs, 20);
    for (const pair of pairs) pair.commit();
    const t = totals(pairs);
    const sorted = Array.from(latencies.subarray(0, latencyCount)).sort((a, b) => a - b);
    const ackSorted = Array.from(ackLatencies.subarray(0, ackCount)).sort((a, b) => a - b);
    const metrics = await scrapeAll(target);
    return {
      load: `raw codec + ws (bench process), 20 pairs × 100 msg/s, 1 ms pacer${cluster ? '; senders on node 1, receivers on node 2' : ''}`,
      offeredPerSec: t.sent / sendSeconds,
      samples: latencyCount,
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1],
      ackP50: quantile(ackSorted, 0.5),
      ackP99: quantile(ackSorted, 0.99),
      lateSends,
      benchLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_SAMPLING_MS),
      benchLoopDelayMaxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_SAMPLING_MS),
      ...cpu,
      serverCpuUsPerMsg: (cpu.serverCpuCores * 1e6) / (t.sent / sendSeconds),
      serverLoopDelayP99Ms: metrics.store.loopLagP99Ms,
      ...t,
      serverHealthy: await allHealthy(target),
      ...metrics,
      serverLog: mergeLogs(target, summarizeLog),
    };
  } finally {
    clearTimeout(pacer);
    stopCommits();
    await closePairs(pairs).catch(() => {});
    await target.stop();
  }
}
