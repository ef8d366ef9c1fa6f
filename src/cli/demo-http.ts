/**
 * The HTTP routes of `bimip demo` (demo.ts), mounted on the server's port through
 * BimipServer's `httpFallback`: the page, its script and stylesheet (built by demo/build.mjs into
 * dist/demo/), and `POST /demo/token`, which signs an access token for whichever user asks.
 *
 * That endpoint is the reason demo mode is loopback-only by default. On loopback, requests whose
 * Host header is not a loopback name are refused too: otherwise a web page on another origin could
 * reach it through DNS rebinding (its own name resolving to 127.0.0.1) and read tokens.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { TokenService } from '../auth/token-service.js';
import { HttpError, json, readJson, str } from '../server/admin-http.js';
import type { HttpFallback } from '../server/http.js';

/** The built page: file name under dist/demo/ → content type. Nothing else is ever read from disk. */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** The page loads only its own script and style and talks only to this server (HTTP and WebSocket). */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/** Limits of SPEC §2: eids 1–256 bytes, ids (the device id) 1–128 bytes. */
const MAX_EID_BYTES = 256;
const MAX_DEVICE_BYTES = 128;

export interface DemoRoutesOptions {
  tokens: TokenService;
  /** The built page (dist/demo/), as loaded by `loadDemoAssets`. */
  assets: ReadonlyMap<string, Buffer>;
  /** Lifetime of the access tokens /demo/token issues. */
  tokenTtlSeconds: number;
  /** Demo served on a non-loopback interface (--allow-remote-demo): any Host header is accepted. */
  allowRemote: boolean;
}

/** Reads the built page into memory; throws naming the first missing file. */
export function loadDemoAssets(dir: string): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSETS)) {
    try {
      assets.set(name, readFileSync(join(dir, name)));
    } catch (err) {
      // The source map is optional (a build without it still serves the page).
      if (name.endsWith('.map')) continue;
      throw new Error(`${join(dir, name)} is missing (${(err as Error).message})`);
    }
  }
  return assets;
}

export function demoRoutes(options: DemoRoutesOptions): HttpFallback {
  return async (request, response, path) => {
    if (path !== '/demo' && !path.startsWith('/demo/')) return false;
    if (!options.allowRemote && !isLoopbackHostHeader(request.headers.host)) {
      json(response, 403, { error: 'the demo answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1])' });
      return true;
    }
    if (path === '/demo/token') {
      await issueToken(request, response, options);
      return true;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      json(response, 405, { error: `${request.method} is not allowed on ${path}` });
      return true;
    }
    if (path === '/demo') {
      response.writeHead(302, { Location: '/demo/' });
      response.end();
      return true;
    }
    const name = path === '/demo/' ? 'index.html' : path.slice('/demo/'.length);
    const body = Object.hasOwn(ASSETS, name) ? options.assets.get(name) : undefined;
    if (!body) return false;
    response.writeHead(200, {
      'Content-Type': ASSETS[name]!,
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** POST /demo/token {eid, device} → 200 {token, expires_at}: an access token for that device. */
async function issueToken(request: IncomingMessage, response: ServerResponse, options: DemoRoutesOptions): Promise<void> {
  try {
    if (request.method !== 'POST') throw new HttpError(405, 'use POST with {"eid", "device"}');
    // JSON only: a cross-origin page cannot send it without a CORS preflight, which is never granted.
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw new HttpError(415, 'Content-Type must be application/json');
    const body = await readJson(request, 4096);
    const eid = bounded(str(body, 'eid'), 'eid', MAX_EID_BYTES);
    const device = bounded(str(body, 'device'), 'device', MAX_DEVICE_BYTES);
    // The refresh token is never handed out: the page asks this endpoint again for a new access token.
    const pair = await options.tokens.issuePair(eid, device, { accessTtlSeconds: options.tokenTtlSeconds, refreshTtlSeconds: options.tokenTtlSeconds });
    response.setHeader('Cache-Control', 'no-store');
    json(response, 200, { token: pair.accessToken, expires_at: pair.accessExpiresAt });
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    json(response, err.status, { error: err.message });
  }
}

function bounded(value: string, field: string, maxBytes: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (Buffer.byteLength(value) > maxBytes || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new HttpError(400, `${field} must be 1–${maxBytes} bytes without control characters`);
  }
  return value;
}

/** A Host header naming the loopback interface (any port). */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return isLoopbackHost(name);
}

/** localhost, 127.0.0.0/8, ::1 (bracketed or not). */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}
