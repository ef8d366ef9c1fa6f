/**
 * A device connected with a bare `ws` socket (no SDK): for tests that only need a live connection
 * and how it was closed (operator kicks). Resolves once the server has started the session (its
 * first frame, the caught-up marker, has arrived).
 */
import { WebSocket } from 'ws';
import { encodeFrame } from '../../src/protocol/index.js';
import { within } from './wait.js';

export interface DeviceSocket {
  socket: WebSocket;
  /** Resolves when the connection closes, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  readonly isOpen: boolean;
  /** Sends an OffsetCommit (route 14). */
  commit(offset: number): void;
  close(): void;
}

export async function openDevice(url: string, token: string, timeoutMs = 5000): Promise<DeviceSocket> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  // A late error (the server cut the socket) must not be an unhandled 'error' event.
  socket.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
  const started = new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve());
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed with ${code} before the session started`)));
  });
  await within(started, 'the session to start', timeoutMs);
  return {
    socket,
    closed,
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
    commit: (offset) => socket.send(encodeFrame('offsetCommit', { userOffset: offset, timestamp: Date.now() })),
    close: () => socket.terminate(),
  };
}
