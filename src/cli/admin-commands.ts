/**
 * Operator commands over the admin HTTP API (docs/http-api.md): `bimip revoke`, `bimip kick`,
 * `bimip status`. Each prints the server's JSON answer on stdout and resolves with the exit code:
 * 0 on a 2xx, 1 on an HTTP error (the server's {"error"} on stderr) or an unreachable server. A
 * command that cannot be sent (no admin token, both --token and --jti…) throws a UsageError (2).
 */
import { UsageError } from './config.js';

type Env = Record<string, string | undefined>;

export interface AdminFlags {
  /** Base URL of the node's HTTP port, e.g. http://127.0.0.1:4040. */
  url: string;
  /** The server's BIMIP_ADMIN_TOKEN (default: that variable here). */
  adminToken?: string;
}

/** An answer slower than this is reported as a failure (a stuck server must not hang a script). */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The node this machine's BIMIP_HOST / BIMIP_PORT describe (a server started with the same
 * environment): a wildcard bind address is reached on loopback.
 */
export function defaultAdminUrl(env: Env = process.env): string {
  let host = env['BIMIP_HOST'] || '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${env['BIMIP_PORT'] || '4040'}`;
}

/** `bimip revoke --token T | --jti J`: POST /v1/tokens/revoke. */
export function revokeCommand(flags: AdminFlags & { token?: string; jti?: string }): Promise<number> {
  if ((flags.token === undefined) === (flags.jti === undefined)) throw new UsageError('revoke: give exactly one of --token <token> or --jti <id>');
  const body = flags.token !== undefined ? { token: flags.token } : { jti: flags.jti };
  return callAdmin(flags, 'POST', '/v1/tokens/revoke', body);
}

/** `bimip kick --eid E [--device D] [--code C] [--reason R]`: POST /v1/connections/close. */
export function kickCommand(flags: AdminFlags & { eid: string; device?: string; code?: number; reason?: string }): Promise<number> {
  return callAdmin(flags, 'POST', '/v1/connections/close', { eid: flags.eid, device: flags.device, code: flags.code, reason: flags.reason });
}

/** `bimip status [--eid E]`: GET /v1/status. */
export function statusCommand(flags: AdminFlags & { eid?: string }): Promise<number> {
  const query = flags.eid === undefined ? '' : `?eid=${encodeURIComponent(flags.eid)}`;
  return callAdmin(flags, 'GET', `/v1/status${query}`);
}

async function callAdmin(flags: AdminFlags, method: 'GET' | 'POST', path: string, body?: object): Promise<number> {
  const token = flags.adminToken || process.env['BIMIP_ADMIN_TOKEN'];
  if (!token) throw new UsageError("no admin token: pass --admin-token or set BIMIP_ADMIN_TOKEN to the server's");
  const url = endpoint(flags.url, path);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    process.stderr.write(`bimip: cannot reach ${url.origin}: ${reasonOf(err)}\n`);
    return 1;
  }
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (response.ok) {
    process.stdout.write(`${JSON.stringify(answer ?? text, null, 2)}\n`);
    return 0;
  }
  const error = (answer as { error?: unknown } | undefined)?.error;
  process.stderr.write(`bimip: HTTP ${response.status}: ${typeof error === 'string' ? error : text || response.statusText}\n`);
  return 1;
}

/** `base` (a path prefix is kept: a node behind a proxy at /bimip-admin) + `path`. */
function endpoint(base: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(`${base.replace(/\/+$/, '')}${path}`);
  } catch {
    throw new UsageError(`--url: not a URL: "${base}" (expected e.g. http://127.0.0.1:4040)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: expected an http(s) URL, got "${base}"`);
  return url;
}

/** fetch's TypeError hides the reason (ECONNREFUSED…) in `cause`. */
function reasonOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
