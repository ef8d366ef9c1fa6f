/**
 * Lower-level access for bad-input tests: an SDK client whose underlying `ws` socket is exposed
 * (to send text frames), bare upgrade attempts that report the HTTP status, and a read-only look
 * at the SQLite file to prove nothing was stored.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { BimipConnection, type WebSocketLike } from '../../src/client/index.js';

export interface RawClient {
  client: BimipConnection;
  /** The `ws` socket under the client. */
  socket: WebSocket;
}

/** Connects the real SDK while keeping a handle on its socket. */
export async function connectRaw(url: string, token: string): Promise<RawClient> {
  let socket: WebSocket | undefined;
  const client = await BimipConnection.connect({
    url,
    token,
    connectTimeoutMs: 5000,
    webSocket: (target, jwt) => {
      socket = new WebSocket(target, { headers: { authorization: `Bearer ${jwt}` }, perMessageDeflate: false });
      return socket as unknown as WebSocketLike;
    },
  });
  return { client, socket: socket! };
}

export type UpgradeOutcome = { kind: 'refused'; status: number; body: string } | { kind: 'opened' } | { kind: 'error'; message: string };

/**
 * Attempts a WebSocket upgrade and reports what happened: the HTTP status of a refusal (via the
 * 'unexpected-response' event), or that the socket opened (then closes it).
 */
export function attemptUpgrade(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<UpgradeOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve({ kind: 'error', message: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ kind: 'refused', status: response.statusCode ?? 0, body });
      });
      response.on('error', () => {
        clearTimeout(timer);
        resolve({ kind: 'refused', status: response.statusCode ?? 0, body });
      });
    });
    ws.on('open', () => {
      clearTimeout(timer);
      ws.close(1000);
      resolve({ kind: 'opened' });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      resolve({ kind: 'error', message: err.message });
    });
  });
}

/** Rows in the `messages` and `entries` tables of the harness's SQLite file, read on a separate connection. */
export function storedCounts(dataDir: string): { messages: number; entries: number } {
  const db = new Database(join(dataDir, 'bimip.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const messages = db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
    const entries = db.prepare('SELECT count(*) FROM entries').pluck().get() as number;
    return { messages, entries };
  } finally {
    db.close();
  }
}
