/**
 * Not a test: a figure. RedisBus publish → receive latency between two nodes in one process over
 * loopback Redis, for 10,000 small 'frame' messages (32-byte frame), three ways: one at a time
 * (publish, wait for it), paced at 2,000 msg/s (issue #8's W2 rate), and all at once (throughput).
 *   npx tsx test/helpers/redis-bus-latency.ts
 * Uses its own prefix; pub/sub leaves no keys.
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { REDIS_BUS_PUBLISHER_OPTIONS, REDIS_BUS_SUBSCRIBER_OPTIONS, RedisBus } from '../../src/bus/redis/redis-bus.js';
import { RedisTestKit } from './redis.js';

const COUNT = 10_000;
const EID = 'latency@example.com';
const frame = new Uint8Array(32).fill(7);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(name: string, latencies: number[], elapsedMs: number): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  return `${name.padEnd(16)} n=${sorted.length} p50=${ms(percentile(sorted, 50))} p99=${ms(percentile(sorted, 99))} max=${ms(sorted.at(-1)!)} (${Math.round((sorted.length / elapsedMs) * 1000)} msg/s)`;
}

const kit = new RedisTestKit();
try {
  const logger = pino({ level: 'silent' });
  const node = async (nodeId: string) =>
    RedisBus.start({
      nodeId,
      publisher: await kit.client(REDIS_BUS_PUBLISHER_OPTIONS),
      subscriber: await kit.client(REDIS_BUS_SUBSCRIBER_OPTIONS),
      prefix: kit.prefix,
      logger,
    });
  const sender = await node('sender');
  const receiver = await node('receiver');
  await receiver.subscribe(EID);

  let sentAt: number[] = [];
  let latencies: number[] = [];
  let allArrived: (() => void) | undefined;
  let nextArrived: (() => void) | undefined;
  receiver.onMessage((message) => {
    if (message.kind !== 'frame') return;
    latencies.push(performance.now() - sentAt[message.route]!);
    nextArrived?.();
    if (latencies.length === COUNT) allArrived?.();
  });
  const publish = (seq: number) => {
    sentAt[seq] = performance.now();
    return sender.publish({ user: EID }, { kind: 'frame', eid: EID, device: '', exceptDevice: '', route: seq, transient: true, frame });
  };
  const run = async (name: string, send: () => Promise<void>) => {
    sentAt = [];
    latencies = [];
    const arrived = new Promise<void>((resolve) => {
      allArrived = resolve;
    });
    const started = performance.now();
    await send();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}: only ${latencies.length} arrived`)), 30_000);
    });
    await Promise.race([arrived, timeout]).finally(() => clearTimeout(timer));
    console.log(summary(name, latencies, performance.now() - started));
  };

  await run('warm-up', async () => {
    for (let seq = 0; seq < COUNT; seq++) await publish(seq);
  });
  await run('one at a time', async () => {
    for (let seq = 0; seq < COUNT; seq++) {
      const arrived = new Promise<void>((resolve) => {
        nextArrived = resolve;
      });
      await publish(seq);
      await arrived;
    }
    nextArrived = undefined;
  });
  await run('2,000 msg/s', async () => {
    const started = performance.now();
    for (let seq = 0; seq < COUNT; seq++) {
      const due = started + seq / 2; // one every 0.5 ms
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      void publish(seq);
    }
  });
  await run('all at once', async () => {
    await Promise.all(Array.from({ length: COUNT }, (_, seq) => publish(seq)));
  });
  await sender.close();
  await receiver.close();
} finally {
  await kit.cleanup();
}
