/** Route 3 — SPEC §6 F8: PING → PONG with the same id. A PONG needs no answer. */
import { PingType, Route, checkPingPong, type PingPong } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { identityOf } from '../sender.js';

export function handlePingPong(session: DeviceSession, ping: PingPong, ctx: ServerContext): void {
  const problem = checkPingPong(ping, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.PingPong, problem.message, ping.id);
  if (ping.type !== PingType.PING) return;
  session.send('pingPong', {
    id: ping.id,
    from: identityOf(session.sender),
    type: PingType.PONG,
    timestamp: ctx.clock.now(),
  });
}
