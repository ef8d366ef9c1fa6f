/**
 * W1 throughput: 50 sender→receiver pairs (distinct users), receivers connected and caught up
 * first; each sender keeps 32 messages in flight for 10 s (a new send on every Ack while the window
 * is open). Receivers commit every 64 entries or every 50 ms. After the send window, up to 5 s of
 * drain, then: acked msg/s, delivered msg/s, lost / duplicated / out-of-order counts.
 * Load: raw codec + ws in this process (see lib/raw-client.mjs), not the SDK.
 */
import { allHealthy, cpuFigures, mergeLogs, scrapeAll, startNodes } from './lib/cluster.mjs';
import { Pair, closePairs, connectPairs, startCommitTimer, totals } from './lib/pairs.mjs';
import { payloadWithTime, waitFor } from './lib/util.mjs';

export const W1 = { pairs: 50, inFlight: 32, durationMs: 10_000, drainMs: 5_000, maxPerPair: 400_000 };

export async function runW1({ cpuProfDir, params = W1, onServer, cluster = false } = {}) {
  // Cluster: senders on node 1, receivers on node 2 (every message crosses nodes through Redis).
  const target = await startNodes({ cluster, cpuProfDir });
  for (const server of target.nodes) await onServer?.(server); // diagnostics hook (e.g. attach strace to server.pid)
  const pairs = Array.from({ length: params.pairs }, (_, i) => new Pair(i, params.maxPerPair, 'w1'));
  let stopCommits = () => {};
  try {
    await connectPairs(target.receive.url, pairs, target.send.url);
    stopCommits = startCommitTimer(pairs);

    const cpuStart = await target.cpu();
    const benchCpuStart = process.cpuUsage();
    const start = performance.now();
    const end = start + params.durationMs;
    let windowOpen = true;
    let ackedInWindow = 0;
    let deliveredInWindow = 0;
    for (const pair of pairs) {
      let nextSeq = 0;
      const sendOne = () => {
        if (nextSeq >= params.maxPerPair) return; // count bound
        pair.send(nextSeq, payloadWithTime(nextSeq));
        nextSeq++;
      };
      pair.onAck = (p, _seq, ack) => {
        if (windowOpen && ack.code === 200) ackedInWindow++;
        if (windowOpen && performance.now() < end && p.sender.isOpen) sendOne();
      };
      pair.onDeliver = () => {
        if (windowOpen) deliveredInWindow++;
      };
      for (let k = 0; k < params.inFlight; k++) sendOne();
    }
    await waitFor(() => performance.now() >= end, params.durationMs + 1000, 20);
    windowOpen = false;
    const windowSeconds = (performance.now() - start) / 1000;
    const cpu = cpuFigures(cpuStart, await target.cpu(), windowSeconds);
    const benchCpu = process.cpuUsage(benchCpuStart);

    // Drain: every outstanding Ack back, then every acked message delivered (bounded by drainMs).
    const drainStart = performance.now();
    await waitFor(() => pairs.every((p) => p.inFlight === 0), params.drainMs, 20);
    const remaining = Math.max(0, params.drainMs - (performance.now() - drainStart));
    await waitFor(() => pairs.every((p) => p.distinctDelivered >= p.ackedCount), remaining, 20);
    const drainMs = performance.now() - drainStart;
    for (const pair of pairs) pair.commit();

    const t = totals(pairs);
    const healthy = await allHealthy(target);
    const metrics = await scrapeAll(target);
    return {
      load: `raw codec + ws (bench process), 50 pairs × 32 in flight${cluster ? '; senders on node 1, receivers on node 2' : ''}`,
      ackedPerSec: ackedInWindow / windowSeconds,
      deliveredPerSec: deliveredInWindow / windowSeconds,
      windowSeconds,
      drainMs,
      ...cpu,
      serverCpuUsPerMsg: (cpu.serverCpuCores * 1e6) / (deliveredInWindow / windowSeconds),
      benchCpuCores: (benchCpu.user + benchCpu.system) / 1e6 / windowSeconds,
      ...t,
      inFlightAtEnd: pairs.reduce((a, p) => a + p.inFlight, 0),
      serverHealthy: healthy,
      ...metrics,
      serverLog: mergeLogs(target, summarizeLog),
    };
  } finally {
    stopCommits();
    await closePairs(pairs).catch(() => {});
    await target.stop();
  }
}

export function summarizeLog(log) {
  return { warn: log.warn, error: log.error, fatal: log.fatal, other: log.other, sample: log.lines.slice(0, 5) };
}
