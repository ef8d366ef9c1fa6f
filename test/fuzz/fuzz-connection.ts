/**
 * One fuzz connection (see fuzz-run.ts): a real WebSocket authenticated at the upgrade, the last
 * frames it sent (for a reproduction), every answer handed to the run as it arrives, and PING
 * barriers that resolve on their PONG, on the server's close, or on a timeout (a hang).
 */
import { WebSocket } from 'ws';
import { PingType, pb } from '../../src/protocol/index.js';
import type { MutatedFrame } from './frame-mutator.js';

/** Frames kept for a reproduction. */
const RECENT = 24;

/** One slot's live connection: answers are read as they come, barriers resolve on PONG or close. */
export class FuzzConnection {
  readonly recent: MutatedFrame[] = [];
  closeCode: number | undefined;
  /** True when this side ended the connection (end of the run): its close code is not the server's doing. */
  closedByUs = false;
  private barrier: { id: string; resolve: (outcome: 'pong' | 'closed' | 'timeout') => void } | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    readonly ws: WebSocket,
    private readonly onAnswer: (bytes: Uint8Array, connection: FuzzConnection) => void,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number) => {
        this.closeCode = code;
        this.barrier?.resolve('closed');
        resolve();
      });
    });
    ws.on('message', (data: Buffer) => this.onAnswer(data, this));
    ws.on('error', () => undefined);
  }

  /** Opens a connection; 'refused' with the HTTP status when the upgrade is refused. */
  static open(
    url: string,
    token: string,
    onAnswer: (bytes: Uint8Array, connection: FuzzConnection) => void,
  ): Promise<FuzzConnection | { refused: number | string }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      const timer = setTimeout(() => {
        ws.terminate();
        resolve({ refused: 'connect timeout' });
      }, 5000);
      ws.once('unexpected-response', (_request, response) => {
        clearTimeout(timer);
        response.resume();
        ws.terminate();
        resolve({ refused: response.statusCode ?? 0 });
      });
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new FuzzConnection(ws, onAnswer));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        resolve({ refused: err.message });
      });
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: MutatedFrame): void {
    this.ws.send(frame.bytes);
    this.recent.push(frame);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /**
   * PING with `id`; resolves 'pong', 'closed', or 'timeout' after `ms`. 'closed' as soon as the
   * server's close frame is in (readyState CLOSING): a server closing an abusive connection stops
   * reading it, so the closing handshake would only end when the server cuts the socket (1 s).
   */
  ping(id: string, ms: number): Promise<'pong' | 'closed' | 'timeout'> {
    if (!this.open) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (!this.open) this.barrier?.resolve('closed');
        else if (Date.now() - started > ms) this.barrier?.resolve('timeout');
      }, 5);
      this.barrier = {
        id,
        resolve: (outcome) => {
          clearInterval(poll);
          this.barrier = undefined;
          resolve(outcome);
        },
      };
      this.ws.send(pb.MessageScheme.encode({ route: 3, pingPong: { id, type: PingType.PING } }).finish());
    });
  }

  pong(id: string): void {
    if (this.barrier?.id === id) this.barrier.resolve('pong');
  }

  /** Ends the connection: our close if it is still open, else (the server closed it) at once. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.closedByUs = true;
      this.ws.close(1000);
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
      await Promise.race([this.closed, timeout]);
    }
    // The server's close frame is in (its code kept): no need to finish the handshake.
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    await this.closed;
  }
}
