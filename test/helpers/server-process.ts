/**
 * Runs the real `bimip serve` (node dist/cli/main.js) as a child process, for tests that kill it.
 * Only the PID spawned here is ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { within } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** A port that was free a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface ServerProcessOptions {
  port: number;
  dataDir: string;
  secret: string;
  env?: Record<string, string>;
  /** The `bimip` command and its flags (default `serve`; `demo` for the web chat demo). */
  args?: string[];
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  baseUrl: string;
  /** stdout + stderr so far (for failure messages). */
  output(): string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  readonly hasExited: boolean;
}

/** Spawns the server and waits until GET /healthz answers 200. */
export async function startServerProcess(options: ServerProcessOptions, readyTimeoutMs = 15_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN, ...(options.args ?? ['serve'])], {
    cwd: ROOT,
    env: {
      ...process.env,
      BIMIP_HOST: '127.0.0.1',
      BIMIP_PORT: String(options.port),
      BIMIP_DATA_DIR: options.dataDir,
      BIMIP_JWT_SECRET: options.secret,
      BIMIP_RATE_LIMIT: '0',
      BIMIP_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const handle: ServerProcess = {
    child,
    pid: child.pid!,
    url: `ws://127.0.0.1:${options.port}/bimip`,
    baseUrl,
    output: () => output,
    exited,
    get hasExited() {
      return exitedFlag;
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exitedFlag) throw new Error(`server exited before it was healthy:\n${output}`);
    if (Date.now() > deadline) {
      killProcess(handle, 'SIGKILL');
      throw new Error(`server not healthy within ${readyTimeoutMs} ms:\n${output}`);
    }
    try {
      const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return handle;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Signals the spawned PID (and only it) if it is still running. */
export function killProcess(server: ServerProcess | undefined, signal: NodeJS.Signals): void {
  if (!server || server.hasExited) return;
  try {
    process.kill(server.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILLs the process if still running and waits (bounded) for it to be gone. */
export async function stopProcess(server: ServerProcess | undefined): Promise<void> {
  if (!server) return;
  killProcess(server, 'SIGKILL');
  await within(server.exited, `server pid ${server.pid} to exit`, 5000);
}
