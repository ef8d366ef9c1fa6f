/**
 * Issue #7 items 2, 7 and 11 over real sockets: what one client makes the server hold stays bounded.
 * - Sync replays to a socket that does not read wait for its send buffer (SPEC §6 F2 flow control),
 *   transient frames to it are dropped, and it is closed with 4010 once it stays over the limit.
 * - An abusive connection is closed once, logged once, and not read any further.
 * - A client that pipelines more input than the server is handling is paused (TCP backpressure),
 *   and every message still gets its Ack.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Dispatcher } from '../../src/server/handlers/dispatcher.js';
import { CloseCode, Code, Status, SyncType, decodeFrame, encodeFrame, type Frame } from '../../src/protocol/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor, within } from '../helpers/wait.js';

let h: Harness | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await h?.close();
  h = undefined;
});

interface RawSocket {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<number>;
}

/** A bare `ws` client that records every decoded frame; resolves once the caught-up marker arrived. */
async function rawClient(server: Harness, eid: string, device: string): Promise<RawSocket> {
  const ws = new WebSocket(server.server.url, { headers: { authorization: `Bearer ${await server.token(eid, device)}` }, perMessageDeflate: false });
  sockets.push(ws);
  const frames: Frame[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data: Buffer) => frames.push(decodeFrame(data)));
  await waitFor(() => frames.some((frame) => frame.field === 'sync' && frame.value.id === ''), `caught-up marker for ${eid}`);
  return { ws, frames, closed };
}

async function metric(server: Harness, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.server.port}/metrics`)).text();
  const found = text.split('\n').find((row) => row.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}

describe('backpressure - Sync replay to a socket that does not read', () => {
  it('replays wait for the send buffer, transient frames are dropped, the socket is closed with 4010', async () => {
    h = await startHarness({ delivery: { slowConsumerMs: 1500 }, sweepIntervalMs: 100, session: { ratePerSecond: 0, rateBurst: 0 } });
    const server = h;
    const sender = await server.online('a@replay.test', 'phone');
    const big = new Uint8Array(60 * 1024).fill(120);
    // 200 large entries in B's queue: one full replay is ~12 MiB of frames.
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => sender.send({ id: `big-${i}`, to: 'b@replay.test', payload: big })));
    expect(acks.every((ack) => ack.code === Code.OK)).toBe(true);

    const reader = await rawClient(server, 'b@replay.test', 'phone');
    const session = server.server.hub.session('b@replay.test', 'phone')!;
    const externalBefore = process.memoryUsage().arrayBuffers;
    reader.ws.pause(); // the client stops reading: the server's send buffer is all that can grow
    for (let i = 0; i < 10; i++) {
      reader.ws.send(encodeFrame('sync', { id: `replay-${i}`, type: SyncType.REQUEST, afterOffset: 0, limit: 1000 }));
    }
    let maxBuffered = 0;
    let dropsBefore = -1;
    const deadline = Date.now() + 1200;
    while (Date.now() < deadline && session.transport.isOpen) {
      maxBuffered = Math.max(maxBuffered, session.transport.bufferedBytes);
      if (dropsBefore < 0 && session.transport.bufferedBytes > 1024 * 1024) {
        dropsBefore = await metric(server, 'bimip_frames_dropped_total{reason="slow consumer"}');
        // TYPING to a socket over its limit is dropped, not queued (SPEC §6 F5: transient).
        for (let i = 0; i < 20; i++) sender.sendSignal('b@replay.test', Status.TYPING, `typing-${i}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // 1 MiB send-buffer limit plus the frame that crossed it (and the Sync answers): never 10 × 12 MiB.
    expect(maxBuffered).toBeLessThan(1024 * 1024 + 2 * 64 * 1024 + 4096);
    expect(process.memoryUsage().arrayBuffers - externalBefore).toBeLessThan(32 * 1024 * 1024);
    expect(dropsBefore).toBeGreaterThanOrEqual(0);
    await waitFor(() => dropsBefore >= 0, 'drops counted');
    const dropped = async (): Promise<number> => (await metric(server, 'bimip_frames_dropped_total{reason="slow consumer"}')) - dropsBefore;
    const deadlineDrops = Date.now() + 3000;
    while ((await dropped()) < 20 && Date.now() < deadlineDrops) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await dropped()).toBe(20);

    // It stays over the limit: closed as a slow consumer, and the session is gone from the hub.
    await waitFor(() => server.server.hub.session('b@replay.test', 'phone') === undefined, 'the slow session to be closed', 6000);
    expect(await metric(server, 'bimip_closes_total{code="4010"}')).toBe(1);
    // The server still serves: the same device reconnects and replays normally.
    const again = await rawClient(server, 'b@replay.test', 'phone');
    again.ws.send(encodeFrame('sync', { id: 'small', type: SyncType.REQUEST, afterOffset: 0, limit: 5 }));
    await waitFor(() => again.frames.some((frame) => frame.field === 'sync' && frame.value.id === 'small'), 'the small replay');
    expect(again.frames.filter((frame) => frame.field === 'message')).toHaveLength(5);
  });

  it('one RESPONSE covers at most the byte cap, and after_offset says where to go on', async () => {
    h = await startHarness({ delivery: { replayBytes: 256 * 1024 }, session: { ratePerSecond: 0, rateBurst: 0 } });
    const sender = await h.online('a@cap.test', 'phone');
    const big = new Uint8Array(60 * 1024).fill(1);
    for (let i = 0; i < 12; i++) expect((await sender.send({ id: `m-${i}`, to: 'b@cap.test', payload: big })).code).toBe(Code.OK);
    const reader = await rawClient(h, 'b@cap.test', 'phone');
    reader.ws.send(encodeFrame('sync', { id: 'first', type: SyncType.REQUEST, afterOffset: 0, limit: 1000 }));
    await waitFor(() => reader.frames.some((frame) => frame.field === 'sync' && frame.value.id === 'first'), 'the first RESPONSE');
    const messages = reader.frames.filter((frame): frame is Extract<Frame, { field: 'message' }> => frame.field === 'message');
    const response = reader.frames.find((frame): frame is Extract<Frame, { field: 'sync' }> => frame.field === 'sync' && frame.value.id === 'first')!;
    // 256 KiB of ~60 KiB frames: 5 entries (the one that crosses the cap is the last), not 12.
    expect(messages).toHaveLength(5);
    expect(response.value.afterOffset).toBe(messages.at(-1)!.value.userOffset);
    expect(response.value.headOffset).toBe(12);
  });
});

describe('backpressure - an abusive connection', () => {
  it('is closed once with 1008, logs one line, and is not read any further', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    h = await startHarness({ logger: pino({ level: 'info' }, sink) });
    const abuser = await rawClient(h, 'abuser@abuse.test', 'phone');
    // 500 undecodable frames in one burst: they reach the server in a few TCP reads.
    const burst = Buffer.concat(Array.from({ length: 500 }, () => Buffer.from([0x82, 0x83, 0, 0, 0, 0, 0xff, 0xff, 0xff])));
    (abuser.ws as unknown as { _socket: { write(data: Buffer): void } })._socket.write(burst);
    expect(await within(abuser.closed, 'the 1008 close')).toBe(CloseCode.PolicyViolation);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines.filter((line) => line.includes('too many bad frames'))).toHaveLength(1);
    // Only the frames up to the limit were answered (20 ErrorMessages), not all 500.
    expect(abuser.frames.filter((frame) => frame.field === 'error')).toHaveLength(20);
  });
});

describe('backpressure - a client that pipelines more than the server is handling', () => {
  it('is paused instead of buffered, and every message still gets its Ack', async () => {
    h = await startHarness({ session: { ratePerSecond: 0, rateBurst: 0, maxBytesInFlight: 256 * 1024 } });
    const dispatcher = (h.server as unknown as { dispatcher: Dispatcher }).dispatcher;
    const sender = await h.online('a@pipeline.test', 'phone');
    const payload = new Uint8Array(16 * 1024).fill(7);
    let maxPending = 0;
    const sampler = setInterval(() => (maxPending = Math.max(maxPending, dispatcher.pending)), 1);
    const acks = await within(
      Promise.all(Array.from({ length: 1000 }, (_, i) => sender.send({ id: `p-${i}`, to: 'b@pipeline.test', payload }))),
      '1000 Acks',
      30_000,
    );
    clearInterval(sampler);
    expect(acks.map((ack) => ack.code)).toEqual(new Array(1000).fill(Code.OK));
    expect(acks.map((ack) => ack.userOffset)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // 256 KiB of 16 KiB frames is 16 in flight, plus what the read in progress already held.
    expect(maxPending).toBeLessThanOrEqual(40);
  });
});
