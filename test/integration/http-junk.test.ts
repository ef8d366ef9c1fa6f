/**
 * Issue #7 item 1, SPEC §7.6: every network entry point answers malformed HTTP (plain requests and
 * upgrades) with an error status or a close, never a crash. A corpus of malformed request lines,
 * targets, headers and upgrade requests goes over raw TCP, each on its own connection, and the
 * server must still serve a real client afterwards.
 */
import { rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../src/protocol/index.js';
import { TEST_SECRET, startHarness, takeMessages, tempDir, text, type Harness } from '../helpers/harness.js';
import { freePort, startServerProcess, stopProcess } from '../helpers/server-process.js';
import { within } from '../helpers/wait.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h.close();
});

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Each request is sent raw; the answer (whatever the server says before closing) is returned. */
function rawExchange(port: number, request: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      // One status line with its headers is enough to judge the answer.
      if (Buffer.concat(chunks).includes('\r\n\r\n')) setTimeout(done, 20);
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.write(request));
  });
}

const CORPUS: Array<[string, string | Buffer]> = [
  ['target //[ (plain)', 'GET //[ HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['target //[ (upgrade)', `GET //[ HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`],
  ['target //[ on the socket path (upgrade)', `GET //[/bimip HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`],
  ['target http://[::1 (plain)', 'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['target http://[::1 (upgrade)', `GET http://[::1/bimip HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`],
  ['target //%zz (upgrade)', `GET //%zz/bimip?token=%zz HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`],
  ['target * (plain)', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['target //host:99999 (plain)', 'GET //host:99999/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['target //host:99999 (upgrade)', `GET //host:99999/bimip HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`],
  ['admin route with //[', 'POST //[/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'],
  ['bad request line', 'NOT A REQUEST\r\n\r\n'],
  ['binary junk', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x00, 0x01, 0x02, 0x0d, 0x0a, 0x0d, 0x0a])],
  ['header without colon', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n'],
  ['NUL in header value', 'GET /healthz HTTP/1.1\r\nHost: a\u0000b\r\n\r\n'],
  ['duplicate content-length', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}'],
  ['negative content-length', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ['huge content-length, no body', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n'],
  ['bad chunked encoding', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['upgrade without key', 'GET /bimip HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n'],
  [
    'upgrade with a bad version',
    'GET /bimip?token=x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: abc\r\n\r\n',
  ],
  ['upgrade with an empty bearer', `GET /bimip HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \r\n${UPGRADE}\r\n`],
  ['upgrade with a junk bearer', `GET /bimip HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a.'.repeat(3000)}\r\n${UPGRADE}\r\n`],
  ['upgrade to another protocol', 'GET /bimip HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'],
  ['oversized header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: ${'j'.repeat(20_000)}\r\n\r\n`],
  ['half a request line, then close', 'GET /heal'],
];

describe('http - malformed requests never take the server down', () => {
  it('answers every malformed request with an HTTP error or a close, then still serves', async () => {
    for (const [name, request] of CORPUS) {
      const answer = await rawExchange(h.server.port, request);
      // Either nothing (a close) or an error status: never a 101 upgrade or a 2xx for junk.
      if (answer !== '') expect(answer, name).toMatch(/^HTTP\/1\.1 (4\d\d|5\d\d) /);
    }
    const health = await fetch(`http://127.0.0.1:${h.server.port}/healthz`);
    expect(health.status).toBe(200);
    const receiver = await h.online('b@http-junk.test', 'phone');
    const sender = await h.online('a@http-junk.test', 'phone');
    const ack = await within(sender.send({ to: 'b@http-junk.test', payload: 'after the junk' }), 'Ack');
    expect(ack.code).toBe(Code.OK);
    const [entry] = await takeMessages(receiver, 1);
    expect(text(entry!.message.payload)).toBe('after the junk');
  });

  it('a malformed target on the socket path gets 400, not a crash', async () => {
    const answer = await rawExchange(h.server.port, `GET //[ HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect((await fetch(`http://127.0.0.1:${h.server.port}/healthz`)).status).toBe(200);
  });
});

describe('http - the real `bimip serve` process', () => {
  it('survives `GET //[` as a plain request and as an upgrade, and still answers /healthz', async () => {
    const dataDir = tempDir();
    const server = await startServerProcess({ port: await freePort(), dataDir, secret: TEST_SECRET });
    try {
      const port = Number(new URL(server.baseUrl).port);
      expect(await rawExchange(port, 'GET //[ HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
      expect(await rawExchange(port, `GET //[ HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
      const alive = await Promise.race([server.exited.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 200))]);
      expect(alive, server.output()).toBe(true);
    } finally {
      await stopProcess(server);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
