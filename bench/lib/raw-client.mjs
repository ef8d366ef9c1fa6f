/**
 * A minimal load-generator client: `ws` + the BIMIP codec (encodeFrame/decodeFrame from dist/),
 * callbacks instead of promises, no de-duplication — so duplicates and reordering are seen exactly
 * as the server sends them.
 */
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../dist/protocol/index.js';

export class RawClient {
  /**
   * Opens a socket right away and returns the client (frames may be sent once `opened` resolves;
   * commits sent earlier are dropped). handlers: onMessage(message), onAck(ack), onSync(sync),
   * onError(error), onClose(code). `caughtUp` resolves with the server's caught-up marker.
   */
  static create(url, token, handlers = {}) {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    return new RawClient(ws, handlers);
  }

  /** Resolves after the socket opened and the caught-up marker (Sync with id "") arrived. */
  static async connect(url, token, handlers = {}, timeoutMs = 15_000) {
    const client = RawClient.create(url, token, handlers);
    let timer;
    try {
      await Promise.race([
        client.caughtUp,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('connect + caught-up timed out')), timeoutMs);
        }),
      ]);
      return client;
    } catch (err) {
      client.terminate();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  constructor(ws, handlers) {
    this.ws = ws;
    this.handlers = handlers;
    this.closeCode = undefined;
    this.errors = [];
    this.onCaughtUp = undefined;
    this.caughtUp = new Promise((resolve, reject) => {
      this.onCaughtUp = resolve;
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
      });
      ws.once('close', (code) => reject(new Error(`closed before caught up (${code})`)));
    });
    this.caughtUp.catch(() => {});
    this.opened = new Promise((resolve) => ws.once('open', resolve));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code;
        handlers.onClose?.(code);
        resolve(code);
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data) => this.onFrame(data));
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  onFrame(data) {
    const frame = decodeFrame(data);
    switch (frame.field) {
      case 'message':
        this.handlers.onMessage?.(frame.value);
        return;
      case 'ack':
        this.handlers.onAck?.(frame.value);
        return;
      case 'sync':
        if (frame.value.id === '' && this.onCaughtUp) {
          const done = this.onCaughtUp;
          this.onCaughtUp = undefined;
          done(frame.value);
        }
        this.handlers.onSync?.(frame.value);
        return;
      case 'error':
        this.errors.push(frame.value);
        this.handlers.onError?.(frame.value);
        return;
      default:
        return;
    }
  }

  sendMessage(id, toEid, payload) {
    this.ws.send(encodeFrame('message', { id, to: { eid: toEid }, type: 1, timestamp: Date.now(), payload }));
  }

  commit(offset) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame('offsetCommit', { userOffset: offset, timestamp: Date.now() }));
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    return this.closed;
  }

  terminate() {
    this.ws.terminate();
  }
}
