/**
 * Route 6 — SPEC §6 F1: validate, store durably (one transaction for both queues), Ack, push.
 * Every failure is answered by an Ack carrying the code and the message id.
 */
import { StoreUnavailableError } from '../../core/errors.js';
import { Code, MessageType, Status, checkMessage, pb, type Message } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';

export async function handleMessage(session: DeviceSession, message: Message, ctx: ServerContext): Promise<void> {
  const problem = checkMessage(message, ctx.limits);
  if (problem) return sendAck(session, ctx, message.id, problem.code, problem.message);

  // SPEC §4 Message.from: empty → the session's identity; anything else must match it exactly.
  const from = message.from;
  if (from && (from.eid || from.connectionResourceId)) {
    if (from.eid !== session.eid || from.connectionResourceId !== session.deviceId) {
      return sendAck(session, ctx, message.id, Code.Forbidden, 'from does not match the authenticated identity');
    }
  }
  const to = message.to!;
  try {
    // SPEC §6 F7: a blocked sender's messages are refused; nothing is stored or delivered.
    if (await ctx.contacts.isBlocked(to.eid!, session.eid)) {
      return sendAck(session, ctx, message.id, Code.Forbidden, 'the recipient does not accept messages from you');
    }
    const appended = await ctx.store.appendMessage({
      senderEid: session.eid,
      senderDevice: session.deviceId,
      clientId: message.id,
      recipientEid: to.eid!,
      recipientDevice: to.connectionResourceId ?? '',
      encodeBody: ({ signalId, storedAt }) =>
        pb.Message.encode({
          id: message.id,
          signalId,
          from: { eid: session.eid, connectionResourceId: session.deviceId },
          to: { eid: to.eid, connectionResourceId: to.connectionResourceId },
          type: message.type === 0 ? MessageType.CHAT : message.type,
          timestamp: message.timestamp === 0 ? storedAt : message.timestamp,
          payload: message.payload,
          encryptionType: message.encryptionType,
          encrypted: message.encrypted,
          signature: message.signature,
          status: Status.SENT,
          serverTimestamp: storedAt,
        }).finish(),
    });
    if (appended.duplicate) {
      sendAck(session, ctx, message.id, Code.Duplicate, 'already stored', appended.signalId, appended.senderOffset);
      return;
    }
    ctx.metrics.messagesStored.inc();
    sendAck(session, ctx, message.id, Code.OK, '', appended.signalId, appended.senderOffset);
    ctx.publishEntries(appended.entries);
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      session.logger.warn({ err: err.message }, 'store unavailable; message refused with 503');
      return sendAck(session, ctx, message.id, Code.Unavailable, 'storage unavailable, retry later');
    }
    session.logger.error({ err }, 'storing a message failed');
    sendAck(session, ctx, message.id, Code.Internal, 'internal error');
  }
}

export function sendAck(
  session: DeviceSession,
  ctx: ServerContext,
  id: string,
  code: number,
  details: string,
  signalId = '',
  userOffset = 0,
): void {
  ctx.metrics.ack(code);
  const stored = code === Code.OK || code === Code.Duplicate;
  session.send('ack', {
    id,
    signalId,
    userOffset,
    status: stored ? Status.SENT : 0,
    code,
    timestamp: ctx.clock.now(),
    details,
  });
}
