/**
 * The three kinds of error (ARCHITECTURE §Style 1): a protocol error is answered with a code and
 * the connection stays; a disconnect closes with a code; anything else is a 500 and a log line.
 */

/** Answer the client with `code` (SPEC §10) and keep the connection. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Close the connection with a WebSocket close code (SPEC §2). */
export class DisconnectError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'DisconnectError';
  }
}

/** A token was missing, malformed, expired, forged or revoked (HTTP 401 / close 4001). */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** The store cannot serve right now (SPEC §10: 503, retry later). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store has more writes waiting than its bound (SPEC §10: 503, retry later): refused at once,
 * so overload costs a retry instead of unbounded memory.
 */
export class StoreOverloadedError extends StoreUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'StoreOverloadedError';
  }
}

/** The store answers reads but its writes fail to commit (disk full, I/O error): 503 until one commits. */
export class StoreWritesFailingError extends StoreUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreWritesFailingError';
  }
}
