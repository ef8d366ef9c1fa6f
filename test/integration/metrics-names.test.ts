/**
 * GET /metrics names that stock dashboards match: Node's process metrics under their standard names
 * (no doubled prefix), BIMIP's own under bimip_, and frame counters labelled by route name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/index.js';
import { openDevice } from '../helpers/device-socket.js';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const metrics = async (harness: Harness): Promise<string> => (await fetch(`http://127.0.0.1:${harness.server.port}/metrics`)).text();

/** The metrics once they match `pattern` (or after 5 s, for the assertions to report). */
async function metricsMatching(harness: Harness, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const body = await metrics(harness);
    if (pattern.test(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('metrics names', () => {
  it('metrics - default Node metrics keep their standard names; nothing is doubly prefixed', async () => {
    h = await startHarness();
    const body = await metrics(h);
    expect(body).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(body).toMatch(/^process_resident_memory_bytes \d/m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(body).toMatch(/^bimip_connections 0$/m);
    expect(body).not.toContain('process_process_');
    expect(body).not.toContain('bimip_process_');
    expect(body).not.toContain('bimip_nodejs_');
  });

  it('metrics - frame counters are labelled by route name (message, ack), not by number', async () => {
    h = await startHarness();
    const device = await openDevice(h.server.url, await h.token('a@example.com', 'phone'));
    try {
      device.socket.send(encodeFrame('message', { id: 'm1', to: { eid: 'b@example.com' }, type: 1, payload: new TextEncoder().encode('hi') }));
      const body = await metricsMatching(h, /route="ack",direction="out"/);
      expect(body).toMatch(/^bimip_frames_total\{route="message",direction="in"\} 1$/m);
      expect(body).toMatch(/^bimip_frames_total\{route="ack",direction="out"\} 1$/m);
      expect(body).not.toMatch(/bimip_frames_total\{route="\d+"/);
    } finally {
      device.close();
    }
  });
});
