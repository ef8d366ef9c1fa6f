/**
 * Raw-TCP junk for the HTTP and WebSocket edge (issue #7 item 1, SPEC §7.6): malformed request lines
 * and targets (`//[`, `http://[`, `*`, bad escapes, NUL, 64 KiB), bad headers (no colon, NUL,
 * obs-fold, huge, thousands, conflicting lengths, bad chunking), bad and partial upgrade requests,
 * valid upgrades followed by broken WebSocket framing, and random bytes. A curated list comes first,
 * then cases drawn from a seeded grammar with optional byte damage. The server must answer each with
 * a status or a close — never die, never answer 5xx — and afterwards still serve a fresh pair and
 * hold its stored data unchanged.
 */
import { connect as tcpConnect } from 'node:net';
import { Prng } from './prng.js';
import { FuzzTarget, type MemoryFigures } from './fuzz-target.js';
import type { StoreVerdict } from './store-check.js';

export interface JunkCase {
  name: string;
  /** Written in this order; a pause of `pauseMs` between chunks (partial requests). */
  chunks: Uint8Array[];
  pauseMs?: number;
}

export interface JunkReport {
  seed: number;
  cases: number;
  durationMs: number;
  crashes: number;
  /** The server was stopped from outside (exit 0 after SIGTERM/SIGINT, or killed by SIGTERM/SIGINT/SIGHUP): the run is void. */
  interrupted: string | undefined;
  exit: { code: number | null; signal: string | null } | undefined;
  /** Cases started last before the process died (the exit is noticed a moment after the fatal case). */
  fatal: string[];
  /** The in-flight case that kills a fresh server on its own, when one does. */
  culprit: string | undefined;
  /** Status codes of the first answer line, 'none' when the server closed without one. */
  statuses: Record<string, number>;
  /** Cases answered 5xx: the server failed on input it should have refused. */
  serverErrors: string[];
  alive: boolean;
  witness: string | undefined;
  store: StoreVerdict | undefined;
  memoryBefore: MemoryFigures | undefined;
  memoryAfter: MemoryFigures | undefined;
  shutdown: { code: number | null; signal: string | null; graceful: boolean } | undefined;
  serverOutput: string;
}

const latin1 = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Hand-picked cases: each a known way to trip an HTTP or WebSocket stack. */
function curated(token: string): JunkCase[] {
  const request = (line: string, headers = 'Host: localhost\r\n', body = ''): JunkCase => ({
    name: JSON.stringify(`${line} | ${headers}`.slice(0, 120)),
    chunks: [latin1(`${line}\r\n${headers}\r\n${body}`)],
  });
  const targets = [
    '//[',
    '//[::1',
    '//',
    'http://[',
    'http://a:b@[',
    '*',
    '/%',
    '/%zz',
    '/bimip%',
    '/bimip?token=%ff%fe',
    '/bimip?token=%',
    '/\u0000',
    '/bimip#frag',
    '/../../etc/passwd',
    `/${'a'.repeat(65_536)}`,
    'bimip',
    '/bimip?token=a&token=b',
  ];
  const cases: JunkCase[] = [];
  for (const target of targets) {
    cases.push(request(`GET ${target} HTTP/1.1`));
    cases.push(request(`GET ${target} HTTP/1.1`, `Host: localhost\r\n${UPGRADE}`));
  }
  cases.push(
    request('GET / HTTP/9.9'),
    request('GET /healthz HTTP/1.1 extra'),
    request('GARBAGE'),
    request(''),
    request('GET /healthz HTTP/1.1', 'Host localhost\r\n'),
    request('GET /healthz HTTP/1.1', 'Host: a\r\nHost: b\r\n'),
    request('GET /healthz HTTP/1.1', 'Host: a\r\nX-Folded: a\r\n b\r\n'),
    request('GET /healthz HTTP/1.1', `Host: a\r\nX-Big: ${'b'.repeat(70_000)}\r\n`),
    request('GET /healthz HTTP/1.1', `Host: a\r\n${'X-Many: 1\r\n'.repeat(3000)}`),
    request('GET /healthz HTTP/1.1', 'Host: a\r\nX-Nul: a\u0000b\r\n'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: -1\r\n', '{}'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n', '{}'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: 99999999999999999999\r\n', '{}'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n', 'zz\r\n'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nTransfer-Encoding: chunked\r\n', 'ffffffffffffffff\r\nabc\r\n'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Type: application/json\r\nContent-Length: 22\r\n', '{"refresh_token": {}}'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: 19\r\n', '{"refresh_token":5}'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: 2\r\n', '[]'),
    request('POST /v1/tokens/refresh HTTP/1.1', 'Host: a\r\nContent-Length: 4\r\n', 'null'),
    request('POST /v1/tokens/refresh HTTP/1.1', `Host: a\r\nContent-Length: ${2 * 20_000}\r\n`, `${'['.repeat(20_000)}${']'.repeat(20_000)}`),
    request('POST /v1/messages HTTP/1.1', 'Host: a\r\nAuthorization: Bearer wrong\r\nContent-Length: 2\r\n', '{}'),
    request('GET /bimip HTTP/1.1', `Host: a\r\n${UPGRADE.replace('13', '12')}Authorization: Bearer ${token}\r\n`),
    request('GET /bimip HTTP/1.1', `Host: a\r\n${UPGRADE.replace('dGhlIHNhbXBsZSBub25jZQ==', 'short')}Authorization: Bearer ${token}\r\n`),
    request('GET /bimip HTTP/1.1', `Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer ${token}\r\n`),
    request('GET /bimip HTTP/1.1', `Host: a\r\n${UPGRADE}Authorization: Bearer ${'x'.repeat(60_000)}\r\n`),
    request('GET /bimip HTTP/1.1', `Host: a\r\n${UPGRADE}Authorization: Bearer \u00ff\u00fe.\u0001.\u0002\r\n`),
    request('POST /bimip HTTP/1.1', `Host: a\r\n${UPGRADE}Authorization: Bearer ${token}\r\nContent-Length: 3\r\n`, 'abc'),
    { name: 'partial request line', chunks: [latin1('GET /bim')], pauseMs: 200 },
    { name: 'partial headers', chunks: [latin1(`GET /bimip HTTP/1.1\r\nHost: a\r\n${UPGRADE}Authori`)], pauseMs: 200 },
    {
      name: 'byte-at-a-time upgrade',
      chunks: [...latin1(`GET /bimip HTTP/1.1\r\nHost: a\r\n${UPGRADE}Authorization: Bearer ${token}\r\n\r\n`)].map((byte) => Uint8Array.of(byte)),
    },
  );
  return cases;
}

/** After a valid upgrade: WebSocket frames a client must not send (RFC 6455 violations). */
function brokenWebSocketFrames(rng: Prng): Uint8Array {
  const mask = [1, 2, 3, 4];
  const options: Array<() => number[]> = [
    () => [0x82, 0x03, 1, 2, 3], // unmasked client frame
    () => [0xf2, 0x80, ...mask], // reserved bits set
    () => [0x80 | rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), 0x80, ...mask], // reserved opcode
    () => [0x89, 0x80 | 126, 0x00, 0xc8, ...mask, ...new Array<number>(200).fill(0)], // ping over 125 bytes
    () => [0x09, 0x80, ...mask], // fragmented control frame
    () => [0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, ...mask], // 2^63 length
    () => [0x82, 0x80 | 127, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, ...mask], // 512 GiB length
    () => [0x80, 0x81, ...mask, 0x61 ^ 1], // continuation without a start
    () => [0x81, 0x82, ...mask, 0xff ^ 1, 0xfe ^ 2], // text frame, not UTF-8
    () => [0x88, 0x82, ...mask, 0x03 ^ 1, 0xe7 ^ 2], // close code 999
    () => [0x88, 0x81, ...mask, 0x03 ^ 1], // close with a one-byte payload
    () => [0x02, 0x81, ...mask, 0x01, 0x82, 0x81, ...mask, 0x02], // a new data frame inside a fragmented one
    () => [...rng.bytes(rng.range(1, 64))],
  ];
  return Uint8Array.from(rng.pick(options)());
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'CONNECT', 'TRACE', 'PATCH', 'get', 'G\u0000T', '', 'BREW'];
const TARGETS = [
  '/bimip',
  '/healthz',
  '/metrics',
  '/v1/tokens/refresh',
  '/v1/tokens',
  '/v1/messages',
  '//[',
  '//',
  'http://[',
  'http://localhost/bimip',
  '*',
  '/%',
  '/%zz',
  '/bimip?token=%ff',
  '/\u00ff\u00fe',
  '/a b',
  '/..%2f..',
  '',
];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1', '', 'HTTP/'];

/** One request drawn from a grammar of plausible-but-wrong HTTP, maybe with byte damage. */
function grammarCase(rng: Prng, index: number, token: string): JunkCase {
  const target = rng.chance(0.1) ? `/${rng.word(0, 40)}` : rng.pick(TARGETS) + (rng.chance(0.2) ? `?token=${rng.chance(0.5) ? token : rng.word(0, 30)}` : '');
  let text = `${rng.pick(METHODS)} ${target} ${rng.pick(VERSIONS)}\r\n`;
  if (rng.chance(0.8)) text += `Host: ${rng.pick(['localhost', '', '[', 'a'.repeat(300), '127.0.0.1:1'])}\r\n`;
  if (rng.chance(0.5))
    text += rng.chance(0.8)
      ? UPGRADE
      : `Upgrade: ${rng.pick(['websocket', 'h2c', '', 'websocket, x'])}\r\nConnection: ${rng.pick(['Upgrade', 'close', 'keep-alive, Upgrade', ''])}\r\n`;
  if (rng.chance(0.4)) text += `Authorization: ${rng.pick([`Bearer ${token}`, 'Bearer ', 'Basic xyz', `Bearer ${rng.word(0, 60)}`, 'Bearer a.b.c'])}\r\n`;
  const body = rng.chance(0.3) ? rng.pick(['{}', '{"refresh_token":"x"}', '{"refresh_token":', 'not json', '\u0000\u0001', '{"a":'.repeat(100)]) : '';
  if (body || rng.chance(0.2))
    text += rng.pick([
      `Content-Length: ${body.length}\r\n`,
      'Content-Length: -5\r\n',
      'Content-Length: abc\r\n',
      'Transfer-Encoding: chunked\r\n',
      `Content-Length: ${body.length + 100}\r\n`,
    ]);
  for (let i = rng.int(3); i > 0; i--)
    text += rng.pick(['X-No-Colon\r\n', ': empty-name\r\n', 'X-Nul: \u0000\r\n', ' X-Leading-Space: 1\r\n', `X-Junk-${rng.word()}: ${rng.word(0, 50)}\r\n`]);
  text += rng.chance(0.9) ? '\r\n' : '';
  let bytes = concatBytes(latin1(text), latin1(body));
  if (rng.chance(0.3)) bytes = damage(rng, bytes);
  if (rng.chance(0.15)) bytes = concatBytes(bytes, brokenWebSocketFrames(rng));
  return { name: `grammar #${index}: ${JSON.stringify(Buffer.from(bytes.subarray(0, 160)).toString('latin1'))}`, chunks: [bytes] };
}

function damage(rng: Prng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (rng.int(3)) {
    case 0:
      for (let i = rng.range(1, 6); i > 0 && out.length > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    case 1:
      return out.subarray(0, rng.int(out.length + 1));
    default: {
      const at = rng.int(out.length + 1);
      return concatBytes(out.subarray(0, at), rng.bytes(rng.range(1, 16)), out.subarray(at));
    }
  }
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** The cases of a run: curated first, then `count` drawn ones (grammar, upgrade + broken frames, random bytes). */
export async function junkCases(seed: number, count: number, target: FuzzTarget): Promise<JunkCase[]> {
  const rng = new Prng(seed).fork(1_000_003);
  const token = await target.issueAccess('junk@fuzz.test', 'curated');
  const cases = curated(token);
  for (let index = 0; index < count; index++) {
    const kind = rng.weighted([
      ['grammar', 6],
      ['websocket', 2],
      ['random', 2],
    ] as const);
    if (kind === 'grammar') cases.push(grammarCase(rng, index, token));
    else if (kind === 'random') cases.push({ name: `random bytes #${index}`, chunks: [rng.bytes(rng.range(1, 4096))] });
    else {
      // A real upgrade (its own user: no 4009 between cases, no device limit), then broken framing.
      const upgrade = latin1(
        `GET /bimip HTTP/1.1\r\nHost: localhost\r\n${UPGRADE}Authorization: Bearer ${await target.issueAccess(`junk-${index}@fuzz.test`, 'phone')}\r\n\r\n`,
      );
      cases.push({ name: `upgrade + broken framing #${index}`, chunks: [upgrade, brokenWebSocketFrames(rng)], pauseMs: 30 });
    }
  }
  return cases;
}

/** Sends one case on its own TCP connection; resolves with the status of the first answer line. */
function exchange(port: number, junk: JunkCase, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let answer = '';
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 'none');
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      // A status line with its headers is enough, except for a 101: then the junk frames follow.
      if (answer.includes('\r\n\r\n') && !answer.startsWith('HTTP/1.1 101')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', async () => {
      for (const [index, chunk] of junk.chunks.entries()) {
        if (socket.destroyed) return;
        if (index > 0 && junk.pauseMs) await new Promise((resolve) => setTimeout(resolve, junk.pauseMs));
        socket.write(chunk);
      }
      if (junk.pauseMs && junk.chunks.length === 1) setTimeout(done, junk.pauseMs);
    });
  });
}

/** Runs the cases `concurrency` at a time against a fresh server, then the after-checks. */
export async function runHttpJunk(options: { seed: number; count: number; concurrency?: number; timeoutMs?: number }): Promise<JunkReport> {
  const target = await FuzzTarget.start();
  const started = Date.now();
  const report: JunkReport = {
    seed: options.seed,
    cases: 0,
    durationMs: 0,
    crashes: 0,
    interrupted: undefined,
    exit: undefined,
    fatal: [],
    culprit: undefined,
    statuses: {},
    serverErrors: [],
    alive: false,
    witness: undefined,
    store: undefined,
    memoryBefore: await target.memory(),
    memoryAfter: undefined,
    shutdown: undefined,
    serverOutput: '',
  };
  const cases = await junkCases(options.seed, options.count, target);
  const recent: JunkCase[] = [];
  let stopping = false;
  void target.server.exited.then((exit) => {
    if (stopping) return;
    report.exit = exit;
    if (exit.code === 0 || ['SIGTERM', 'SIGINT', 'SIGHUP'].includes(exit.signal ?? '')) {
      report.interrupted = `the server exited (code ${exit.code}, signal ${exit.signal}) on a signal from outside the run`;
      return;
    }
    report.crashes = 1;
    fatalCases = [...recent];
    report.fatal = fatalCases.map((junk) => junk.name.slice(0, 300));
  });
  let fatalCases: JunkCase[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length && report.crashes === 0 && report.interrupted === undefined) {
      const junk = cases[next++]!;
      recent.push(junk);
      if (recent.length > 64) recent.shift();
      const status = await exchange(target.port, junk, options.timeoutMs ?? 1500);
      // The exit event may trail the socket's close by a moment: judge the case once it is known.
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (report.crashes > 0 || report.interrupted !== undefined) break;
      report.cases++;
      report.statuses[status] = (report.statuses[status] ?? 0) + 1;
      if (status.startsWith('5') && report.serverErrors.length < 20) report.serverErrors.push(`${status} for ${junk.name.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, () => worker()));
  report.durationMs = Date.now() - started;
  // A crash may surface a moment after the last exchange.
  await new Promise((resolve) => setTimeout(resolve, 200));
  report.alive = await target.alive();
  if (report.alive) {
    report.memoryAfter = await target.memory();
    report.store = await target.verdict();
    report.witness = await target.witness('after-http-junk');
  }
  report.serverOutput = target.outputTail();
  stopping = report.exit === undefined;
  report.shutdown = await target.stop(!junkPassed(report));
  if (report.crashes > 0) report.culprit = await isolateCulprit(fatalCases, options.timeoutMs ?? 1500);
  return report;
}

/** Replays the cases that were in flight at a crash, one at a time, on a fresh server: the first that kills it alone. */
async function isolateCulprit(cases: JunkCase[], timeoutMs: number): Promise<string | undefined> {
  const target = await FuzzTarget.start({ bare: true });
  try {
    for (const junk of cases) {
      await exchange(target.port, junk, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (target.exited) return `${junk.name.slice(0, 300)}\n${target.outputTail(1500)}`;
    }
    return undefined;
  } finally {
    await target.stop();
  }
}

export function junkPassed(report: JunkReport): boolean {
  return (
    report.crashes === 0 &&
    report.interrupted === undefined &&
    report.alive &&
    report.serverErrors.length === 0 &&
    report.witness === undefined &&
    report.store !== undefined &&
    report.store.problems.length === 0 &&
    report.store.protectedBefore === report.store.protectedAfter
  );
}

export function formatJunkReport(report: JunkReport): string {
  const lines = [
    `seed ${report.seed}: ${report.cases} HTTP/TCP junk cases in ${(report.durationMs / 1000).toFixed(1)} s; crashes ${report.crashes}${report.exit ? ` (exit code ${report.exit.code}, signal ${report.exit.signal})` : ''}; alive ${report.alive}`,
    ...(report.interrupted ? [`INTERRUPTED: ${report.interrupted}; the run is void`] : []),
    `answers by status: ${JSON.stringify(report.statuses)}`,
    `RSS before ${((report.memoryBefore?.rss ?? 0) / 2 ** 20).toFixed(1)} MiB, after ${((report.memoryAfter?.rss ?? 0) / 2 ** 20).toFixed(1)} MiB`,
  ];
  if (report.store) {
    lines.push(`protected data sha256 before ${report.store.protectedBefore}`, `protected data sha256 after  ${report.store.protectedAfter}`);
    for (const problem of report.store.problems) lines.push(`STORE: ${problem}`);
  }
  lines.push(`witness: ${report.witness ?? 'fresh pair exchanged a message'}; shutdown: ${JSON.stringify(report.shutdown)}`);
  if (report.culprit) lines.push(`KILLS A FRESH SERVER ON ITS OWN: ${report.culprit}`);
  else for (const fatal of report.fatal) lines.push(`STARTED SHORTLY BEFORE THE SERVER DIED: ${fatal}`);
  for (const error of report.serverErrors) lines.push(`FINDING: ${error}`);
  if (!junkPassed(report)) lines.push('server output (tail):', report.serverOutput);
  return lines.join('\n');
}
