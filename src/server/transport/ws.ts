/**
 * The WebSocket edge (the only file that imports `ws`): upgrade at `path` with the access token from
 * `Authorization: Bearer` or `?token=` (SPEC §2); a refused token gets HTTP 401 and no upgrade.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AuthError } from '../../core/errors.js';
import type { Transport } from '../../core/transport.js';
import type { Principal } from '../../core/types.js';
import { parseRequestTarget, type RequestTarget } from '../request-target.js';

/** Called as plain functions (ws emits them directly), so they must not depend on `this`. */
export interface ConnectionEvents {
  onFrame: (data: Uint8Array, isBinary: boolean) => void;
  onClose: (code: number) => void;
}

export interface WebSocketEdgeOptions {
  path: string;
  /** ws drops frames above this before buffering them (close 1009 with no 413 frame). */
  hardMaxPayload: number;
  authenticate(token: string): Promise<Principal>;
  onRejected(status: number, reason: string): void;
  /** An unexpected failure while handling an upgrade (answered 500; the node keeps serving). */
  onError(err: unknown): void;
  onConnect(principal: Principal, transport: Transport): ConnectionEvents;
}

export class WebSocketEdge {
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(
    server: Server,
    private readonly options: WebSocketEdgeOptions,
  ) {
    // perMessageDeflate off: frames are small protobufs, and compression costs CPU and memory per socket.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.hardMaxPayload, perMessageDeflate: false, clientTracking: false });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Nothing may escape an upgrade (SPEC §7.6): a throw here would be an unhandled rejection.
      this.upgrade(request, socket as Socket, head).catch((err: unknown) => {
        options.onError(err);
        if (!socket.destroyed) this.reject(socket as Socket, 500, 'Internal Server Error', 'internal error');
      });
    });
  }

  /** Refuses new upgrades (503) from now on (graceful shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  private async upgrade(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const destroyOnError = (): void => {
      socket.destroy();
    };
    socket.on('error', destroyOnError);
    const url = parseRequestTarget(request.url);
    if (!url) return this.reject(socket, 400, 'Bad Request', 'malformed request target');
    if (url.pathname !== this.options.path) return this.reject(socket, 404, 'Not Found', 'unknown path');
    if (!this.accepting) return this.reject(socket, 503, 'Service Unavailable', 'shutting down');
    let principal: Principal;
    try {
      principal = await this.options.authenticate(tokenOf(request, url));
    } catch (err) {
      const reason = err instanceof AuthError ? err.message : 'authentication failed';
      return this.reject(socket, 401, 'Unauthorized', reason);
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      // ws has its own socket error handler by now; ours would be one more closure per connection.
      socket.off('error', destroyOnError);
      const transport = new WsTransport(ws, socket);
      const { onFrame, onClose } = this.options.onConnect(principal, transport);
      // The handlers themselves, not wrappers: no closure or context per connection (issue #10, W4).
      ws.on('message', onFrame);
      ws.on('close', onClose);
      ws.on('error', ignoreError);
    });
  }

  private reject(socket: Socket, status: number, text: string, reason: string): void {
    this.options.onRejected(status, reason);
    const body = JSON.stringify({ error: reason });
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n` + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
}

/** ws closes the socket itself on its errors (e.g. 1009 over hardMaxPayload); 'close' follows. */
function ignoreError(): void {}

function uncork(transport: WsTransport): void {
  transport.flush();
}

function tokenOf(request: IncomingMessage, url: RequestTarget): string {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  return url.query.get('token') ?? '';
}

class WsTransport implements Transport {
  private corked = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
  ) {}

  send(frame: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // Frames sent in the same tick (the Acks of one group commit, a burst of pushes) leave in one
    // writev instead of one syscall each; the socket is uncorked once the tick's work is done.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.ws.send(frame, { binary: true });
  }

  /** @internal */
  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  async whenBufferedBelow(bytes: number): Promise<void> {
    while (this.isOpen && this.ws.bufferedAmount >= bytes) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      });
    }
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  close(code: number, reason: string, options: { stopReading?: boolean } = {}): void {
    if (this.ws.readyState !== WebSocket.OPEN && this.ws.readyState !== WebSocket.CONNECTING) return;
    this.ws.close(code, reason);
    // Issue #7 item 7: an abusive peer's remaining bytes are not parsed (no more frames, no more log
    // lines); its close reply is not awaited either.
    if (options.stopReading) this.ws.pause();
    // ws waits 30 s for the peer's close frame; a peer that does not answer within the grace period
    // (or that we no longer read) is cut, so a closing connection holds nothing for long.
    const cut = setTimeout(() => this.ws.terminate(), options.stopReading ? ABUSIVE_CLOSE_GRACE_MS : CLOSE_GRACE_MS);
    cut.unref();
    this.ws.once('close', () => clearTimeout(cut));
  }
}

/** How long a peer has to answer our close frame before the TCP connection is cut. */
const CLOSE_GRACE_MS = 5000;
const ABUSIVE_CLOSE_GRACE_MS = 1000;
