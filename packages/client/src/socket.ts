/** The WebSocket seam: what the client needs from a socket, and how it opens one by default. */

/** The subset of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Opens a socket to `url` authenticated with `token` (tests pass a fake). */
export type WebSocketFactory = (url: string, token: string) => WebSocketLike;

export interface ConnectOptions {
  /** ws://host:port/bimip */
  url: string;
  /** Access token (JWT). */
  token: string;
  /** How to open the socket; default: `ws` in Node (token in the Authorization header), else the global WebSocket with ?token=. */
  webSocket?: WebSocketFactory;
  /** Reject `connect` if the socket is not open within this many ms (default 10 s). */
  connectTimeoutMs?: number;
}

export const OPEN = 1;

export async function defaultWebSocketFactory(): Promise<WebSocketFactory> {
  const global = globalThis as { WebSocket?: new (url: string) => WebSocketLike; process?: unknown };
  if (global.process === undefined && global.WebSocket) {
    // Browsers cannot set headers on a WebSocket: the token goes in the query (SPEC §2).
    const BrowserWebSocket = global.WebSocket;
    return (url, token) => new BrowserWebSocket(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`);
  }
  const { WebSocket: NodeWebSocket } = await import('ws');
  return (url, token) => new NodeWebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false }) as unknown as WebSocketLike;
}
