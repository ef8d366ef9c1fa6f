/**
 * F9 with the real `bimip serve` process: the webhook receiver is down, the notice waits in the
 * durable outbox, survives a server restart, and is delivered (signed) once the receiver is back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection } from '../../src/client/index.js';
import { verifySignature } from '../../src/push/index.js';
import { tempDir } from '../helpers/harness.js';
import { freePort, startServerProcess, stopProcess, type ServerProcess } from '../helpers/server-process.js';
import { waitFor, within } from '../helpers/wait.js';

const SECRET = 'push-restart-jwt-secret-0123456789';
const HOOK_SECRET = 'push-restart-hook-secret-0123';
let server: ServerProcess | undefined;
let receiver: Server | undefined;
afterEach(async () => {
  await stopProcess(server);
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  server = receiver = undefined;
});

interface Hit {
  status: number;
  delivery: string;
  raw: string;
  signature: string;
}

describe('push webhook across a restart', () => {
  it('push - a notice refused by a down receiver is delivered after the receiver and BIMIP come back', async () => {
    let answer = 503;
    const hits: Hit[] = [];
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        hits.push({
          status: answer,
          delivery: String(request.headers['x-bimip-delivery']),
          raw: Buffer.concat(chunks).toString('utf8'),
          signature: String(request.headers['x-bimip-signature']),
        });
        response.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const port = await freePort();
    const dataDir = tempDir();
    const env = { BIMIP_PUSH_WEBHOOK_URL: hookUrl, BIMIP_PUSH_WEBHOOK_SECRET: HOOK_SECRET };
    server = await startServerProcess({ port, dataDir, secret: SECRET, env });
    const issuer = new TokenIssuer(SECRET);
    const token = (eid: string, device: string) => issuer.issueAccessToken({ eid, deviceId: device });

    const b = await BimipConnection.connect({ url: server.url, token: await token('b@example.com', 'phone') });
    await within(b.caughtUp, 'B caught up');
    await b.close();
    const a = await BimipConnection.connect({ url: server.url, token: await token('a@example.com', 'web') });
    await within(a.caughtUp, 'A caught up');
    const ack = await within(a.send({ to: 'b@example.com', id: 'wake-up' }), 'Ack');
    expect(ack.code).toBe(200);
    await waitFor(() => hits.length >= 1, 'a first (refused) POST');
    await a.close();

    // Graceful stop, then the receiver recovers, then BIMIP starts again on the same data dir.
    process.kill(server.pid, 'SIGTERM');
    expect((await within(server.exited, 'server exit', 10_000)).code).toBe(0);
    answer = 200;
    server = await startServerProcess({ port, dataDir, secret: SECRET, env });
    await waitFor(() => hits.some((hit) => hit.status === 200), 'the notice delivered after the restart', 10_000);

    const delivered = hits.filter((hit) => hit.status === 200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.delivery).toBe(hits[0]!.delivery);
    expect(JSON.parse(delivered[0]!.raw)).toMatchObject({
      kind: 'entry',
      to: 'b@example.com',
      offline_devices: ['phone'],
      message_id: 'wake-up',
      signal_id: ack.signalId,
    });
    expect(verifySignature(delivered[0]!.raw, delivered[0]!.signature, HOOK_SECRET)).toBe(true);
  }, 30_000);
});
