/** Who this page is (from the query string) and how it gets its tokens (POST /demo/token, src/cli/demo-http.ts). */

export interface DemoParams {
  /** This user's eid. */
  me: string;
  /** The one user this page chats with. */
  peer: string;
  /** This browser's device id (connection_resource_id). */
  device: string;
}

/** `?me=alice&peer=bob&device=web1`; me defaults to alice, peer to the other of alice/bob, device to web1. */
export function readParams(search: string): DemoParams {
  const query = new URLSearchParams(search);
  const me = query.get('me')?.trim() || 'alice';
  const peer = query.get('peer')?.trim() || (me === 'alice' ? 'bob' : 'alice');
  const device = query.get('device')?.trim() || 'web1';
  return { me, peer, device };
}

/** The page the peer would open to answer this one. */
export function peerPageUrl(params: DemoParams): string {
  const query = new URLSearchParams({ me: params.peer, peer: params.me, device: params.device });
  return `?${query.toString()}`;
}

/**
 * Asks the demo server for a fresh access token of (eid, device). The SDK calls this before the
 * first connect, shortly before each token expires, and after a refused upgrade.
 */
export async function fetchToken(eid: string, device: string): Promise<string> {
  const response = await fetch('/demo/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ eid, device }),
    cache: 'no-store',
  });
  const body = (await response.json().catch(() => ({}))) as { token?: unknown; error?: unknown };
  if (!response.ok || typeof body.token !== 'string') {
    throw new Error(`no token from /demo/token (HTTP ${response.status}${typeof body.error === 'string' ? `: ${body.error}` : ''})`);
  }
  return body.token;
}

/** The server's WebSocket endpoint on the host that served this page. */
export function bimipUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/bimip`;
}
