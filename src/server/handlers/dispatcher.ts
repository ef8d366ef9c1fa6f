/**
 * Decodes each frame of an authenticated session and hands it to the one handler of its route.
 * Bad frames get an ErrorMessage 400 and count towards the abuse limit (SPEC §2); frames over the
 * size limit get 413 and close 1009; routes the server only sends are refused.
 */
import { CloseCode, Code, FrameError, Route, decodeFrame, type Frame } from '../../protocol/index.js';
import { ProtocolError, StoreUnavailableError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { handleMessage, sendAck } from './message.js';
import { handleOffsetCommit } from './offset-commit.js';
import { handlePingPong } from './ping-pong.js';
import { handleSync } from './sync.js';
import { handleSignal } from './signal.js';
import { handleContact } from './contact.js';
import { handleAwareness } from './awareness.js';
import { handleAwarenessVisibility } from './awareness-visibility.js';
import { handleTokenAuthority } from './token-authority.js';
import { handleLogout } from './logout.js';

type Handler = (session: DeviceSession, frame: Frame, ctx: ServerContext) => void | Promise<void>;

const HANDLERS: Partial<Record<number, Handler>> = {
  [Route.Message]: (session, frame, ctx) => handleMessage(session, frame.value as never, ctx),
  [Route.OffsetCommit]: (session, frame, ctx) => handleOffsetCommit(session, frame.value as never, ctx),
  [Route.Sync]: (session, frame, ctx) => handleSync(session, frame.value as never, ctx),
  [Route.PingPong]: (session, frame, ctx) => handlePingPong(session, frame.value as never, ctx),
  [Route.Signal]: (session, frame, ctx) => handleSignal(session, frame.value as never, ctx),
  [Route.Contact]: (session, frame, ctx) => handleContact(session, frame.value as never, ctx),
  [Route.Awareness]: (session, frame, ctx) => handleAwareness(session, frame.value as never, ctx),
  [Route.AwarenessVisibility]: (session, frame, ctx) => handleAwarenessVisibility(session, frame.value as never, ctx),
  [Route.TokenAuthority]: (session, frame, ctx) => handleTokenAuthority(session, frame.value as never, ctx),
  [Route.Logout]: (session, frame, ctx) => handleLogout(session, frame.value as never, ctx),
};

/** Routes only the server sends (SPEC §3: server → client). */
const SERVER_ONLY = new Set<number>([Route.Body, Route.Error, Route.Ack]);

export class Dispatcher {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly ctx: ServerContext) {}

  /** Frames being handled right now (shutdown waits for them). */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves when no handler is running. */
  async whenIdle(): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  dispatch(session: DeviceSession, data: Uint8Array, isBinary: boolean): void {
    const { ctx } = this;
    // A connection being closed is not listened to any more: frames already read in the same chunk
    // are dropped, so an abusive client gets one close and one log line (issue #7 item 7).
    if (!session.transport.isOpen) return;
    session.lastFrameAt = ctx.clock.now();
    if (data.length > ctx.limits.maxFrameBytes) {
      session.sendError(Code.TooLarge, 0, `frame of ${data.length} bytes is over the ${ctx.limits.maxFrameBytes}-byte limit`);
      session.close(CloseCode.TooBig, 'frame too large');
      return;
    }
    if (!isBinary) return this.badFrame(session, new FrameError(Code.BadRequest, 'text frames are not accepted; send binary MessageScheme frames'));
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      return this.badFrame(session, err as FrameError);
    }
    ctx.metrics.frame(frame.route, 'in');
    if (!session.rate.take(session.lastFrameAt)) {
      const details = 'rate limit exceeded';
      if (frame.route === Route.Message) return sendAck(session, ctx, frame.value.id, Code.RateLimited, details);
      return session.sendError(Code.RateLimited, frame.route, details, idOf(frame));
    }
    const handler = HANDLERS[frame.route];
    if (!handler) {
      const details = SERVER_ONLY.has(frame.route) ? `route ${frame.route} is sent by the server only` : `route ${frame.route} is not accepted from clients`;
      return this.badFrame(session, new FrameError(Code.BadRequest, details, frame.route, idOf(frame)));
    }
    this.run(session, frame, handler, data.length);
  }

  private run(session: DeviceSession, frame: Frame, handler: Handler, bytes: number): void {
    let result: void | Promise<void>;
    try {
      result = handler(session, frame, this.ctx);
    } catch (err) {
      return this.internalError(session, frame, err);
    }
    if (!result) return;
    this.inFlight++;
    session.frameStarted(bytes);
    result
      .catch((err: unknown) => this.internalError(session, frame, err))
      .finally(() => {
        session.frameFinished(bytes);
        this.inFlight--;
        if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
  }

  private internalError(session: DeviceSession, frame: Frame, err: unknown): void {
    if (err instanceof ProtocolError) return session.sendError(err.code, frame.route, err.message, idOf(frame));
    if (err instanceof StoreUnavailableError) {
      // Full disk, overload, store down: the client retries later (SPEC §10 503); not a bug to log per frame.
      return session.sendError(Code.Unavailable, frame.route, 'storage unavailable, retry later', idOf(frame));
    }
    session.logger.error({ err, route: frame.route }, 'handler failed');
    session.sendError(Code.Internal, frame.route, 'internal error', idOf(frame));
  }

  private badFrame(session: DeviceSession, error: FrameError): void {
    session.sendError(error.code, error.route, error.message, error.id);
    if (session.abuse.record(this.ctx.clock.now())) {
      session.logger.warn({}, 'too many bad frames; closing with 1008');
      session.close(CloseCode.PolicyViolation, 'too many bad frames');
    }
  }
}

function idOf(frame: Frame): string {
  const id = (frame.value as { id?: unknown }).id;
  return typeof id === 'string' ? id : '';
}
