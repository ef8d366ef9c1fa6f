/**
 * Route 11 — SPEC §6 F8 Logout: type 1 (DEVICE) revokes this device's tokens, deletes its cursor and
 * closes it; type 2 (ACCOUNT) does so for every device of the user on every connection (tokens
 * issued before now are refused). The requesting connection gets Logout{status 1} then close 1000.
 */
import { CloseCode, LogoutStatus, LogoutType as Type, Route, type Logout } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';

export async function handleLogout(session: DeviceSession, logout: Logout, ctx: ServerContext): Promise<void> {
  if (logout.type !== Type.DEVICE && logout.type !== Type.ACCOUNT) {
    return session.sendError(400, Route.Logout, `type ${logout.type} is not 1 (DEVICE) or 2 (ACCOUNT)`);
  }
  // Its own token is revoked below: the sweeper must not close it with 4001 before it gets its answer.
  session.loggingOut = true;
  const everyDevice = logout.type === Type.ACCOUNT;
  const device = everyDevice ? '' : session.deviceId;
  const principals = everyDevice ? ctx.router.localPrincipals(session.eid) : [session.principal];
  await ctx.tokens.logout(
    session.eid,
    device,
    principals.map(({ jti, expiresAt }) => ({ jti, expiresAt })),
  );
  await ctx.store.deleteCursors(session.eid, device);
  session.send('logout', {
    type: logout.type,
    status: LogoutStatus.SUCCESS,
    to: { eid: session.eid, connectionResourceId: device },
    timestamp: ctx.clock.now(),
  });
  session.close(1000, 'logged out');
  if (!everyDevice) return;
  ctx.router.closeDevices(session.eid, '', CloseCode.Unauthorized, 'logged out on every device', session.connectionId);
}
