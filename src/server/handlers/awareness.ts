/** Route 2 — SPEC §6 F6: a REQUEST with `to` queries a user; without, the device sets its state. */
import { ProtocolError } from '../../core/errors.js';
import { Code, Route, checkAwareness, type Awareness } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { isSpoofed } from '../sender.js';

export async function handleAwareness(session: DeviceSession, awareness: Awareness, ctx: ServerContext): Promise<void> {
  const problem = checkAwareness(awareness, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.Awareness, problem.message, awareness.id);
  if (isSpoofed(session.sender, awareness.from)) {
    return session.sendError(Code.Forbidden, Route.Awareness, 'from does not match the authenticated identity', awareness.id);
  }
  const target = awareness.to?.eid;
  if (!target) return ctx.presence.setByDevice(session, awareness);
  try {
    session.send('awareness', await ctx.presence.query(session, awareness.id, target));
  } catch (err) {
    if (err instanceof ProtocolError) return session.sendError(err.code, Route.Awareness, err.message, awareness.id);
    throw err;
  }
}
