/** One client connection as the session sees it; only server/transport knows it is a WebSocket. */
export interface Transport {
  /** Queues one binary frame. */
  send(frame: Uint8Array): void;
  /** Bytes queued but not yet handed to the kernel (backpressure). */
  readonly bufferedBytes: number;
  /** Resolves once `bufferedBytes` has fallen below `bytes` (or the transport closed). */
  whenBufferedBelow(bytes: number): Promise<void>;
  close(code: number, reason: string): void;
  readonly isOpen: boolean;
}
