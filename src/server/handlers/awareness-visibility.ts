/** Route 4 — SPEC §6 F6 visibility: type 2 hides the user everywhere, type 1 shows them again. */
import { Code, Route, VisibilityType, checkVisibility, type AwarenessVisibility } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { isSpoofed } from '../sender.js';

export async function handleAwarenessVisibility(session: DeviceSession, visibility: AwarenessVisibility, ctx: ServerContext): Promise<void> {
  const problem = checkVisibility(visibility, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.AwarenessVisibility, problem.message, visibility.id);
  if (isSpoofed(session.sender, visibility.from)) {
    return session.sendError(Code.Forbidden, Route.AwarenessVisibility, 'from does not match the authenticated identity', visibility.id);
  }
  await ctx.presence.setHidden(session, visibility.id, visibility.type === VisibilityType.DISABLED);
}
