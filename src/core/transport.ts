/** One client connection as the session sees it; only server/transport knows it is a WebSocket. */
export interface Transport {
  /** Queues one binary frame. */
  send(frame: Uint8Array): void;
  /** Bytes queued but not yet handed to the kernel (backpressure). */
  readonly bufferedBytes: number;
  /** Resolves once `bufferedBytes` has fallen below `bytes` (or the transport closed). */
  whenBufferedBelow(bytes: number): Promise<void>;
  /**
   * Starts the close handshake with `code`. With `stopReading` nothing more is read from the peer
   * (an abusive or stuck client: its remaining bytes are not worth parsing). Either way the
   * connection is cut if the peer has not completed the handshake after a short grace period.
   */
  close(code: number, reason: string, options?: { stopReading?: boolean }): void;
  readonly isOpen: boolean;
  /** Stops reading frames from the peer (backpressure: too much of its input is being handled). */
  pauseReading(): void;
  resumeReading(): void;
}
