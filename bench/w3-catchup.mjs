/**
 * W3 catch-up: a receiver device connects once (its cursor is created at the head, 0) and
 * disconnects; a sender then enqueues 10,000 messages for it (one sender, 32 in flight, every Ack
 * 200): the store rate is those 10,000 over the time from the first send to the last Ack. The
 * catch-up time runs from connect start until the 10,000th entry has been received; the client
 * commits every 64 entries (the server pushes at most 512 uncommitted). Measured twice per run,
 * on two receivers with their own 10,000 entries:
 *   - sdk: BimipConnection (dist/client), reading `client.entries` as an application would;
 *   - raw: ws + codec, the same commit policy, no SDK overhead.
 * Before them, one 10,000-entry fill and catch-up of each kind warms both processes up (not
 * counted): the first 10,000 through a fresh process run before V8 has optimised the path (store
 * rate ~11k msg/s cold, ~20k warm; catch-up ~120 ms cold, ~50 ms warm).
 */
import { BimipConnection } from '../dist/client/index.js';
import { RawClient } from './lib/raw-client.mjs';
import { allHealthy, mergeLogs, scrapeAll, startNodes } from './lib/cluster.mjs';
import { payloadWithTime, token, waitFor } from './lib/util.mjs';
import { summarizeLog } from './w1-throughput.mjs';

export const W3 = { entries: 10_000, warmupEntries: 10_000, commitEvery: 64, sendInFlight: 32, timeoutMs: 30_000 };

export async function enqueue(url, senderEid, receiverEid, count, inFlight) {
  let acked = 0;
  let failed = 0;
  let sent = 0;
  let sender;
  const sendNext = () => {
    if (sent < count) sender.sendMessage(`w3-${receiverEid}-${sent}`, receiverEid, payloadWithTime(sent++));
  };
  sender = await RawClient.connect(url, await token(senderEid), {
    onAck: (ack) => {
      if (ack.code === 200) acked++;
      else failed++;
      sendNext();
    },
  });
  const start = performance.now();
  for (let k = 0; k < inFlight; k++) sendNext();
  await waitFor(() => acked + failed >= count, 60_000, 1);
  const seconds = (performance.now() - start) / 1000;
  await sender.close();
  if (acked !== count) throw new Error(`enqueue: ${acked}/${count} acked (${failed} refused)`);
  return count / seconds;
}

async function catchUpSdk(url, receiverEid, params) {
  const tok = await token(receiverEid);
  const start = performance.now();
  const client = await BimipConnection.connect({ url, token: tok });
  let received = 0;
  let lastOffset = 0;
  let markerMs;
  void client.caughtUp.then(() => (markerMs = performance.now() - start));
  const deadline = start + params.timeoutMs;
  const timer = setTimeout(() => client.close(), params.timeoutMs);
  let firstMs;
  try {
    for await (const entry of client.entries) {
      if (received === 0) firstMs = performance.now() - start;
      received++;
      lastOffset = entry.offset;
      if (received % params.commitEvery === 0) client.commit(lastOffset);
      if (received >= params.entries || performance.now() > deadline) break;
    }
    const ms = performance.now() - start;
    client.commit(lastOffset);
    await waitFor(() => markerMs !== undefined, 2000, 5);
    return { ms, received, firstMs, markerMs, lastOffset };
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}

export async function catchUpRaw(url, receiverEid, params) {
  const tok = await token(receiverEid);
  let received = 0;
  let lastOffset = 0;
  let outOfOrder = 0;
  let firstMs;
  let doneMs;
  let markerMs;
  const start = performance.now();
  const client = RawClient.create(url, tok, {
    onMessage: (message) => {
      if (received === 0) firstMs = performance.now() - start;
      if (message.userOffset !== lastOffset + 1) outOfOrder++;
      lastOffset = message.userOffset;
      received++;
      if (received % params.commitEvery === 0) client.commit(lastOffset);
      if (received === params.entries) doneMs = performance.now() - start;
    },
    onSync: (sync) => {
      if (sync.id === '') markerMs = performance.now() - start;
    },
  });
  try {
    await waitFor(() => doneMs !== undefined || client.closeCode !== undefined, params.timeoutMs, 1);
    client.commit(lastOffset);
    await waitFor(() => markerMs !== undefined, 2000, 5);
    return { ms: doneMs ?? NaN, received, firstMs, markerMs, lastOffset, outOfOrder };
  } finally {
    await client.close();
  }
}

export async function runW3({ cpuProfDir, params = W3, onServer, cluster = false } = {}) {
  // Cluster: the sender fills the queue on node 1; the receiver connects (both times) to node 2.
  const target = await startNodes({ cluster, cpuProfDir });
  for (const server of target.nodes) await onServer?.(server); // diagnostics hook (e.g. attach strace to server.pid)
  try {
    const results = {};
    // Warm-up (not counted): one 1,000-entry catch-up per client kind, so neither side runs cold code.
    const rounds = [
      ...['sdk', 'raw'].map((mode) => ({ mode, tag: 'warmup', entries: params.warmupEntries })),
      ...['sdk', 'raw'].map((mode) => ({ mode, tag: 'measured', entries: params.entries })),
    ];
    for (const { mode, tag, entries } of rounds) {
      if (entries <= 0) continue;
      const p = { ...params, entries };
      const receiverEid = `w3-${tag}-${mode}-receiver@bench`;
      // First connect creates the cursor (at head 0); then the device goes away.
      const first = await BimipConnection.connect({ url: target.receive.url, token: await token(receiverEid) });
      await first.caughtUp;
      await first.close();
      const storedPerSec = await enqueue(target.send.url, `w3-${tag}-${mode}-sender@bench`, receiverEid, entries, params.sendInFlight);
      const result = mode === 'sdk' ? await catchUpSdk(target.receive.url, receiverEid, p) : await catchUpRaw(target.receive.url, receiverEid, p);
      if (tag === 'measured') results[mode] = { ...result, storedPerSec };
    }
    return {
      load: `sdk: BimipConnection; raw: ws + codec (both in the bench process), commit every ${params.commitEvery}; queue filled by one sender, ${params.sendInFlight} in flight${cluster ? '; queue filled on node 1, caught up on node 2' : ''}`,
      ms: results.sdk.ms,
      rawMs: results.raw.ms,
      // Both measured fills are the same workload; the lower of the two is reported.
      storedPerSec: Math.min(results.raw.storedPerSec, results.sdk.storedPerSec),
      sdk: results.sdk,
      raw: results.raw,
      ...(await scrapeAll(target)),
      serverHealthy: await allHealthy(target),
      serverLog: mergeLogs(target, summarizeLog),
    };
  } finally {
    await target.stop();
  }
}
