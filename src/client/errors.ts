/** Errors the SDK rejects its promises with. */
import type { ErrorMessage } from '../protocol/index.js';

/** The connection closed before (or while) a request was answered. */
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

/** A TokenAuthority request was answered with task 3 (ERROR); `message` is the server's reason. */
export class TokenAuthorityError extends Error {
  constructor(readonly details: string) {
    super(details || 'token request refused');
    this.name = 'TokenAuthorityError';
  }
}
