/**
 * Route 5 — SPEC §6 F8 TokenAuthority: REFRESH (a refresh token → a new pair: the access token in
 * `token`, the new refresh token in `details`), VALIDATE, REVOKE (a token, a jti or a refresh token
 * of the user's own; its connections close with 4001). Answers are TokenAuthority frames with task 2
 * (RESPONSE) or 3 (ERROR, `details` says why).
 */
import { AuthError } from '../../core/errors.js';
import { Route, TokenAuthorityType as Type, TokenTask as Task, type TokenAuthority } from '../../protocol/index.js';
import { TokenError } from '../../auth/token-service.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';

export async function handleTokenAuthority(session: DeviceSession, request: TokenAuthority, ctx: ServerContext): Promise<void> {
  if (request.task !== Task.REQUEST || ![Type.REFRESH, Type.VALIDATE, Type.REVOKE].includes(request.type as 1)) {
    return session.sendError(400, Route.TokenAuthority, 'expected task 1 (REQUEST) with type 1 REFRESH, 2 VALIDATE or 3 REVOKE');
  }
  if (!request.token) return session.sendError(400, Route.TokenAuthority, 'token is required');
  const answer = (task: number, fields: { token?: string; details?: string; eid?: string; device?: string }) =>
    session.send('tokenAuthority', {
      type: request.type,
      task,
      token: fields.token ?? '',
      details: fields.details ?? '',
      to: fields.eid ? { eid: fields.eid, connectionResourceId: fields.device ?? '' } : undefined,
      timestamp: ctx.clock.now(),
    });
  const tokens = ctx.tokens;
  try {
    if (request.type === Type.REFRESH) {
      const pair = await tokens.refresh(request.token);
      return answer(Task.RESPONSE, { token: pair.accessToken, details: pair.refreshToken, eid: pair.eid, device: pair.device });
    }
    if (request.type === Type.VALIDATE) {
      const principal = await tokens.validate(request.token);
      return answer(Task.RESPONSE, { details: 'valid', eid: principal.eid, device: principal.deviceId });
    }
    const { jtis } = await tokens.revoke(request.token, session.eid);
    answer(Task.RESPONSE, { details: `revoked ${jtis.length}` });
    ctx.router.revoked(jtis);
  } catch (err) {
    if (err instanceof TokenError || err instanceof AuthError) return answer(Task.ERROR, { details: err.message });
    throw err;
  }
}
