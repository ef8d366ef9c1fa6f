/**
 * The frame fuzzer (issue #7, SPEC §7.6): C connection slots, each authenticated with a real token,
 * send mutated frames of every route to a real server process and read everything it answers.
 * Frames go out in batches; after each batch a PING must come back as a PONG within `stallMs`
 * (frames of a connection are dispatched in order, so the PONG proves every earlier frame was
 * taken), else the run reports a hang. A slot whose connection is closed (1008 after 20 bad
 * frames, 1009 for an oversized frame, 1000 after a valid logout, 4001 after revoking its own
 * token) reconnects with a fresh token. At the end: the process is alive, a fresh pair still
 * exchanges a message, and the stored data passes store-check.ts.
 *
 * Reproducing: every slot draws from its own stream forked from the seed, so `--seed S` (or
 * FUZZ_SEED=S) regenerates the same frame sequence per slot, except bytes taken from the server
 * (token strings, signal_ids and offsets it answered). On a crash, stall or 500 the report holds the
 * exact bytes of the slot's last frames.
 */
import { CloseCode, Code, PingType, decodeFrame, type Frame } from '../../src/protocol/index.js';
import { FuzzConnection } from './fuzz-connection.js';
import { FuzzTarget, type MemoryFigures } from './fuzz-target.js';
import { mutateFrame, type MutatedFrame } from './frame-mutator.js';
import { validFrame, type TemplateContext } from './frame-templates.js';
import { Prng } from './prng.js';
import type { StoreVerdict } from './store-check.js';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many fuzz frames… */
  frames: number;
  /** …or after this long, whichever comes first. */
  durationMs: number;
  /** Connections open at once (slots). */
  connections: number;
  /** Frames between two PING barriers (default 16). */
  batch?: number;
  /** A barrier PONG later than this is a hang (default 15 s). */
  stallMs?: number;
  /** Also send frames over the 1 MiB frame limit (default true). */
  oversize?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Keep the data dir (default: only when a check failed). */
  keepData?: boolean;
}

export interface FuzzReport {
  seed: number;
  frames: number;
  bytesSent: number;
  durationMs: number;
  framesPerSecond: number;
  connections: number;
  /** The server process died during the run (0 or 1): a non-zero exit code, or a fatal signal (SIGSEGV, SIGABRT, SIGKILL from the OOM killer…). */
  crashes: number;
  /**
   * Set when the run was cut short from outside: the server began a graceful shutdown (close 1001)
   * or exited on SIGTERM/SIGINT/SIGHUP, none of which a fuzz frame can cause. The run
   * proves nothing then (it fails), but it is not a finding against the server.
   */
  interrupted: string | undefined;
  exit: { code: number | null; signal: string | null } | undefined;
  /** Barriers not answered in time while the connection stayed open. */
  stalls: string[];
  /** Server close codes seen by fuzz connections. */
  closeCodes: Record<string, number>;
  /** Close codes that no fuzz input may cause (1011 internal error, 1006 abnormal, 4010 slow consumer…). */
  unexpectedCloses: string[];
  answers: { frames: number; byRoute: Record<string, number>; errorCodes: Record<string, number>; ackCodes: Record<string, number> };
  /** ErrorMessage or Ack 500: a handler threw on input it should have refused. */
  internalErrors: string[];
  /** Frames from the server that did not decode. */
  undecodableAnswers: number;
  memoryBefore: MemoryFigures | undefined;
  memoryAfter: MemoryFigures | undefined;
  alive: boolean;
  witness: string | undefined;
  store: StoreVerdict | undefined;
  shutdown: { code: number | null; signal: string | null; graceful: boolean } | undefined;
  /** Bytes (hex) of the frames last sent by the slot where something went wrong. */
  repro: string[];
  serverOutput: string;
  dataDir: string;
  /** Where the slots spent their time (summed over slots, ms): where to look when frames/s is low. */
  timing: { connect: number; send: number; barrier: number };
}

/** Close codes a fuzz input may legitimately cause (SPEC §2, §6 F8). */
const EXPECTED_CLOSES = new Set<number>([1000, CloseCode.PolicyViolation, CloseCode.TooBig, CloseCode.Unauthorized]);
const SINKS = ['sink-1@fuzz.test', 'sink-2@fuzz.test'];

class Budget {
  frames = 0;
  bytes = 0;
  stopped = false;
  constructor(
    readonly maxFrames: number,
    readonly deadline: number,
  ) {}
  get exhausted(): boolean {
    return this.stopped || this.frames >= this.maxFrames || Date.now() >= this.deadline;
  }
}

const hex = (frame: MutatedFrame): string =>
  `${frame.mutations.join('+')} route ${frame.route}: ${Buffer.from(frame.bytes.subarray(0, 512)).toString('hex')}${frame.bytes.length > 512 ? `… (${frame.bytes.length} bytes)` : ''}`;
const bump = (counts: Record<string, number>, key: number | string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { seed, connections } = options;
  const batch = options.batch ?? 16;
  const stallMs = options.stallMs ?? 15_000;
  const log = options.log ?? (() => undefined);
  const target = await FuzzTarget.start();
  const report: FuzzReport = {
    seed,
    frames: 0,
    bytesSent: 0,
    durationMs: 0,
    framesPerSecond: 0,
    connections: 0,
    crashes: 0,
    interrupted: undefined,
    exit: undefined,
    stalls: [],
    closeCodes: {},
    unexpectedCloses: [],
    answers: { frames: 0, byRoute: {}, errorCodes: {}, ackCodes: {} },
    internalErrors: [],
    undecodableAnswers: 0,
    memoryBefore: await target.memory(),
    memoryAfter: undefined,
    alive: false,
    witness: undefined,
    store: undefined,
    shutdown: undefined,
    repro: [],
    serverOutput: '',
    dataDir: target.dataDir,
    timing: { connect: 0, send: 0, barrier: 0 },
  };
  const started = Date.now();
  const budget = new Budget(options.frames, started + options.durationMs);
  let stopping = false;
  void target.server.exited.then((exit) => {
    if (stopping) return;
    report.exit = exit;
    budget.stopped = true;
    if (exit.code === 0 || ['SIGTERM', 'SIGINT', 'SIGHUP'].includes(exit.signal ?? ''))
      report.interrupted ??= `the server exited (code ${exit.code}, signal ${exit.signal}) on a signal from outside the run`;
    else report.crashes = 1;
  });
  const currentEids: string[] = new Array<string>(connections).fill(SINKS[0]!);
  const protectedSignalIds = target.world.signalIds;

  const runSlot = async (slot: number): Promise<void> => {
    const rng = new Prng(seed).fork(slot);
    let generation = 0;
    let connectionIndex = 0;
    let devicesOfGeneration = 0;
    const seen = { signalIds: [] as string[], head: 0 };
    const onAnswer = (bytes: Uint8Array, connection: FuzzConnection): void => {
      report.answers.frames++;
      let frame: Frame;
      try {
        frame = decodeFrame(bytes);
      } catch {
        report.undecodableAnswers++;
        return;
      }
      bump(report.answers.byRoute, frame.route);
      switch (frame.field) {
        case 'pingPong':
          if (frame.value.type === PingType.PONG) connection.pong(frame.value.id);
          return;
        case 'error':
          bump(report.answers.errorCodes, frame.value.code);
          if (frame.value.code === Code.Internal) internal(connection, `ErrorMessage 500 (origin ${frame.value.errorOrigin}): ${frame.value.details}`);
          return;
        case 'ack':
          bump(report.answers.ackCodes, frame.value.code);
          if (frame.value.code === Code.Internal) internal(connection, `Ack 500: ${frame.value.details}`);
          if (frame.value.signalId) remember(frame.value.signalId, frame.value.userOffset);
          return;
        case 'message':
          if (frame.value.signalId) remember(frame.value.signalId, frame.value.userOffset);
          return;
        case 'sync':
          seen.head = Math.max(seen.head, frame.value.headOffset);
          return;
        default:
          return;
      }
    };
    const remember = (signalId: string, offset: number): void => {
      seen.signalIds.push(signalId);
      if (seen.signalIds.length > 64) seen.signalIds.shift();
      seen.head = Math.max(seen.head, offset);
    };
    const internal = (connection: FuzzConnection, what: string): void => {
      if (report.internalErrors.length < 20) report.internalErrors.push(what);
      if (report.repro.length === 0) report.repro.push(`slot ${slot}, seed ${seed}: ${what}`, ...connection.recent.map(hex));
    };

    const refreshToken = await target.issuePair(`fz${slot}-refresh.${seed.toString(36)}@fuzz.test`, 'rt').then(
      (pair) => pair.refreshToken,
      () => undefined,
    );
    /** Opens the slot's next connection: a fresh device, and a fresh user every 8 devices or after its tokens ended. */
    const connectNext = async (): Promise<{ opened: FuzzConnection; eid: string; device: string; token: string } | undefined> => {
      for (let attempt = 0; attempt < 20 && !budget.exhausted; attempt++) {
        // A first-time device starts at the head (SPEC §5), so reconnecting never replays a backlog.
        if (devicesOfGeneration >= 8) {
          generation++;
          devicesOfGeneration = 0;
        }
        const eid = `fz${slot}g${generation}.${seed.toString(36)}@fuzz.test`;
        const device = `d${connectionIndex++}`;
        devicesOfGeneration++;
        const token = await target.issueAccess(eid, device);
        const opened = await FuzzConnection.open(target.url, token, onAnswer);
        if (opened instanceof FuzzConnection) {
          report.connections++;
          return { opened, eid, device, token };
        }
        if (target.exited) return undefined;
        // Refused (e.g. an ACCOUNT logout of this user a moment ago): move on to a new user.
        devicesOfGeneration = 8;
      }
      return undefined;
    };
    /** Closes a used connection and books how it ended (the server's close code, if the server closed it). */
    const finish = async (opened: FuzzConnection): Promise<void> => {
      await opened.close();
      const code = opened.closeCode;
      if (code === undefined || opened.closedByUs) return;
      bump(report.closeCodes, code);
      if (code === CloseCode.GoingAway) {
        report.interrupted ??= 'the server shut down gracefully (close 1001) during the run: it was sent SIGTERM or SIGINT from outside';
        budget.stopped = true;
        return;
      }
      if (!EXPECTED_CLOSES.has(code) && !budget.stopped) {
        if (report.unexpectedCloses.length < 20) report.unexpectedCloses.push(`slot ${slot}: close ${code}`);
        if (report.repro.length === 0) report.repro.push(`slot ${slot}, seed ${seed}: close ${code}`, ...opened.recent.map(hex));
      }
      // A logout (1000) or a revoked token (4001) ends the user's tokens: the next connection is a new user.
      if (code === 1000 || code === CloseCode.Unauthorized) devicesOfGeneration = 8;
    };

    // The next connection opens while the current one is fuzzed: a connection lasts ~20 bad frames
    // (SPEC §2 abuse limit), so connecting would otherwise dominate the run.
    let spare = connectNext();
    while (!budget.exhausted) {
      const waitStarted = performance.now();
      const active = await spare;
      report.timing.connect += performance.now() - waitStarted;
      if (!active) break;
      spare = connectNext();
      const { opened, eid, device, token } = active;
      currentEids[slot] = eid;
      const ctx: TemplateContext = {
        eid,
        device,
        peers: [...currentEids.filter((other) => other !== eid), ...SINKS, eid],
        accessToken: token,
        refreshToken,
        foreignAccessToken: target.world.accessToken,
        get signalIds() {
          return [...seen.signalIds, ...protectedSignalIds];
        },
        get head() {
          return seen.head;
        },
      };
      seen.head = 0;
      let barrier = 0;
      while (opened.open && !budget.exhausted) {
        const sendStarted = performance.now();
        for (let i = 0; i < batch && opened.open && !budget.exhausted; i++) {
          const frame = mutateFrame(rng, validFrame(rng, ctx), () => validFrame(rng, ctx), { oversize: options.oversize ?? true });
          opened.send(frame);
          budget.frames++;
          budget.bytes += frame.bytes.length;
        }
        const barrierStarted = performance.now();
        report.timing.send += barrierStarted - sendStarted;
        const outcome = await Promise.race([opened.ping(`~barrier-${slot}-${barrier++}`, stallMs), target.server.exited.then(() => 'crashed' as const)]);
        report.timing.barrier += performance.now() - barrierStarted;
        if (outcome === 'timeout') {
          report.stalls.push(`slot ${slot} (${eid}/${device}): no PONG within ${stallMs} ms on an open connection`);
          report.repro.push(`slot ${slot}, seed ${seed}: stall`, ...opened.recent.map(hex));
          budget.stopped = true;
        }
        if (outcome === 'crashed' && report.repro.length === 0) report.repro.push(`slot ${slot}, seed ${seed}: server exited`, ...opened.recent.map(hex));
      }
      closing.push(finish(opened));
    }
    const unused = await spare;
    if (unused) closing.push(finish(unused.opened));
  };

  const closing: Array<Promise<void>> = [];
  const progress = setInterval(
    () => log(`… ${budget.frames} frames, ${report.connections} connections, ${Math.round((budget.frames * 1000) / (Date.now() - started))} frames/s`),
    10_000,
  );
  await Promise.all(Array.from({ length: connections }, (_, slot) => runSlot(slot)));
  await Promise.all(closing);
  clearInterval(progress);
  report.frames = budget.frames;
  report.bytesSent = budget.bytes;
  report.durationMs = Date.now() - started;
  report.framesPerSecond = Math.round((report.frames * 1000) / Math.max(1, report.durationMs));
  budget.stopped = true;

  report.alive = await target.alive();
  if (report.alive) {
    report.memoryAfter = await target.memory();
    report.store = await target.verdict();
    report.witness = await target.witness('after-fuzz');
  }
  report.serverOutput = target.outputTail();
  const failed = !fuzzPassed(report);
  stopping = report.crashes === 0 && report.exit === undefined;
  report.shutdown = await target.stop(options.keepData ?? failed);
  if (report.crashes === 0 && !report.shutdown.graceful) report.serverOutput += '\n(server did not exit within 10 s of SIGTERM)';
  return report;
}

/** Every check of issue #7 held. */
export function fuzzPassed(report: FuzzReport): boolean {
  return (
    report.crashes === 0 &&
    report.interrupted === undefined &&
    report.alive &&
    report.stalls.length === 0 &&
    report.unexpectedCloses.length === 0 &&
    report.internalErrors.length === 0 &&
    report.undecodableAnswers === 0 &&
    report.witness === undefined &&
    report.store !== undefined &&
    report.store.problems.length === 0 &&
    report.store.protectedBefore === report.store.protectedAfter
  );
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** A human summary of a run. */
export function formatReport(report: FuzzReport): string {
  const lines = [
    `seed ${report.seed}: ${report.frames} frames (${mib(report.bytesSent)}) in ${(report.durationMs / 1000).toFixed(1)} s = ${report.framesPerSecond} frames/s over ${report.connections} connections`,
    ...(report.interrupted ? [`INTERRUPTED: ${report.interrupted}; the run is void`] : []),
    `crashes ${report.crashes}${report.exit ? ` (exit code ${report.exit.code}, signal ${report.exit.signal})` : ''}; alive ${report.alive}; stalls ${report.stalls.length}; 500s ${report.internalErrors.length}; unexpected closes ${report.unexpectedCloses.length}; undecodable answers ${report.undecodableAnswers}`,
    `answers ${report.answers.frames}: errors ${JSON.stringify(report.answers.errorCodes)} acks ${JSON.stringify(report.answers.ackCodes)}; closes ${JSON.stringify(report.closeCodes)}`,
    `slot time (ms, summed): waiting for a connection ${Math.round(report.timing.connect)}, generate+send ${Math.round(report.timing.send)}, wait for barrier PONG ${Math.round(report.timing.barrier)}`,
    `server CPU ${report.memoryAfter && report.memoryBefore ? (report.memoryAfter.cpuSeconds - report.memoryBefore.cpuSeconds).toFixed(1) : '?'} s during the run`,
    `RSS before ${mib(report.memoryBefore?.rss)}, after ${mib(report.memoryAfter?.rss)}, peak ${mib(report.memoryAfter?.peakRss)}; heap used before ${mib(report.memoryBefore?.heapUsed)}, after ${mib(report.memoryAfter?.heapUsed)}`,
  ];
  if (report.store) {
    lines.push(
      `protected data sha256 before ${report.store.protectedBefore}`,
      `protected data sha256 after  ${report.store.protectedAfter} (${report.store.protectedBefore === report.store.protectedAfter ? 'unchanged' : 'CHANGED'})`,
      `whole store sha256 before ${report.store.allBefore.slice(0, 16)}…, after ${report.store.allAfter.slice(0, 16)}… (rows added by fuzz actors: ${JSON.stringify(report.store.added)})`,
    );
    for (const problem of report.store.problems) lines.push(`STORE: ${problem}`);
  }
  lines.push(`witness: ${report.witness ?? 'fresh pair exchanged a message (Ack 200, delivered)'}; shutdown: ${JSON.stringify(report.shutdown)}`);
  for (const item of [...report.stalls, ...report.unexpectedCloses, ...report.internalErrors]) lines.push(`FINDING: ${item}`);
  if (report.repro.length > 0) lines.push('repro (last frames of the slot, oldest first):', ...report.repro.map((line) => `  ${line}`));
  if (!fuzzPassed(report)) lines.push(`data dir kept: ${report.dataDir}`, 'server output (tail):', report.serverOutput);
  return lines.join('\n');
}
