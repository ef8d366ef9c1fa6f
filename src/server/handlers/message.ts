/** Route 6 — SPEC §6 F1: every Message gets exactly one Ack, sent only after the message is durable. */
import { Code, Route, Status, type Message } from '../../protocol/index.js';
import { encodeAckFrame } from '../ack-frame.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { storeMessage } from '../store-message.js';

export async function handleMessage(session: DeviceSession, message: Message, ctx: ServerContext): Promise<void> {
  const outcome = await storeMessage(ctx, session.sender, message);
  sendAck(session, ctx, message.id, outcome.code, outcome.details, outcome.signalId, outcome.userOffset);
}

export function sendAck(session: DeviceSession, ctx: ServerContext, id: string, code: number, details: string, signalId = '', userOffset = 0): void {
  ctx.metrics.ack(code);
  const stored = code === Code.OK || code === Code.Duplicate;
  const ack = { id, signalId, userOffset, status: stored ? Status.SENT : 0, code, timestamp: ctx.clock.now(), details };
  session.sendEncoded(encodeAckFrame(ack), Route.Ack);
}
