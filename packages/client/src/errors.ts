/**
 * Errors the SDK rejects its promises with. Each has a `code` an app can switch on; `instanceof`
 * works too. Connect failures (ConnectError) are told apart from a server close
 * (ConnectionClosedError) and from a refused request (BimipRequestError).
 */
import type { ErrorMessage } from '@bimip/protocol/lite';

/** Why a connection could not be opened. */
export type ConnectErrorKind =
  /** HTTP 401 at the upgrade: missing, invalid, expired or revoked token (SPEC §2). */
  | 'unauthorized'
  /** Any other HTTP status at the upgrade (`status` says which). */
  | 'http'
  /** Connection refused, reset, DNS failure, or a browser that does not say why. */
  | 'network'
  /** Not open within `connectTimeoutMs`. */
  | 'timeout';

/**
 * The socket never opened. Browsers do not expose the HTTP status of a refused upgrade, so there a
 * 401 shows as kind 'network'; Node (ws) reports it as 'unauthorized'.
 */
export class ConnectError extends Error {
  constructor(
    readonly kind: ConnectErrorKind,
    /** HTTP status of a refused upgrade, 0 when there was none. */
    readonly status: number,
    detail: string,
  ) {
    super(`connect failed (${kind}${status ? ` ${status}` : ''})${detail ? `: ${detail}` : ''}`);
    this.name = 'ConnectError';
  }

  get code(): number {
    return this.status;
  }
}

/** Classifies a socket error message (ws: "Unexpected server response: 401", "connect ECONNREFUSED …"). */
export function connectErrorFrom(message: string): ConnectError {
  if (message === 'timeout') return new ConnectError('timeout', 0, 'not open in time');
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1];
  if (status === '401') return new ConnectError('unauthorized', 401, message);
  if (status) return new ConnectError('http', Number(status), message);
  return new ConnectError('network', 0, message);
}

/** The connection closed before (or while) a request was answered. `code` is the WebSocket close code. */
export class ConnectionClosedError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`connection closed (${code}${reason ? `: ${reason}` : ''})`);
    this.name = 'ConnectionClosedError';
  }
}

/**
 * The server refused a request: it answered with an `ErrorMessage` carrying the request's id
 * (SPEC §10 codes, e.g. 403 when querying a user you are not subscribed to, 404 when approving
 * a request that does not exist).
 */
export class BimipRequestError extends Error {
  /** SPEC §10 code (ErrorMessage.code). */
  readonly code: number;
  /** Route of the frame at fault (ErrorMessage.error_origin). */
  readonly origin: number;
  /** The server's explanation (ErrorMessage.details). */
  readonly details: string;
  /** The id of the request that failed. */
  readonly id: string;

  constructor(error: Pick<ErrorMessage, 'code' | 'errorOrigin' | 'details' | 'id'>) {
    super(`request ${error.id} failed with ${error.code}${error.details ? `: ${error.details}` : ''}`);
    this.name = 'BimipRequestError';
    this.code = error.code;
    this.origin = error.errorOrigin;
    this.details = error.details;
    this.id = error.id;
  }
}

/** The server refused a message for good (Ack 400, 403, 413 …; SPEC §10): resending will not help. */
export class SendRejectedError extends Error {
  constructor(
    /** The message id. */
    readonly id: string,
    /** The Ack's code. */
    readonly code: number,
    readonly details: string,
  ) {
    super(`message ${id} rejected with ${code}${details ? `: ${details}` : ''}`);
    this.name = 'SendRejectedError';
  }
}

/** send() was refused locally: `maxOutbox` unconfirmed sends and receipts are already waiting. */
export class OutboxFullError extends Error {
  readonly code = 507;
  constructor(readonly size: number) {
    super(`outbox full (${size} unconfirmed frames): wait for the connection to come back`);
    this.name = 'OutboxFullError';
  }
}

/** A request was not answered (or the client not connected) within `requestTimeoutMs`. */
export class RequestTimeoutError extends Error {
  readonly code = 408;
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** The client was closed (by the app, or by a terminal close such as 4009) before this finished. */
export class ClientClosedError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`client closed (${code}${reason ? `: ${reason}` : ''})`);
    this.name = 'ClientClosedError';
  }
}

/** A TokenAuthority request was answered with task 3 (ERROR); `message` is the server's reason. */
export class TokenAuthorityError extends Error {
  readonly code = 401;
  constructor(readonly details: string) {
    super(details || 'token request refused');
    this.name = 'TokenAuthorityError';
  }
}
