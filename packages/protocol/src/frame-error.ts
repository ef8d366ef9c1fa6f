/** A frame that breaks the protocol: answered with `code`, the connection stays open. */
export class FrameError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** Route of the frame at fault (0 when it could not be read). */
    readonly route = 0,
    /** The frame's own id, when it had one. */
    readonly id = '',
  ) {
    super(message);
    this.name = 'FrameError';
  }
}
