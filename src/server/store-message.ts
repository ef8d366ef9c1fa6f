/**
 * SPEC §6 F1 steps 1–4, shared by the socket (route 6) and the admin HTTP API: validate, refuse a
 * blocked sender, store durably (one transaction for both queues), then hand the new entries to
 * delivery. The caller answers with the outcome (an Ack, or JSON).
 */
import { ProtocolError, StoreOverloadedError, StoreUnavailableError } from '../core/errors.js';
import { Code, MessageType, Status, checkMessage, pb, type MessageInit } from '../protocol/index.js';
import type { ServerContext } from './context.js';
import { LogThrottle } from './log-throttle.js';
import { identityOf, isSpoofed, type Sender } from './sender.js';

export interface MessageOutcome {
  code: number;
  details: string;
  signalId: string;
  /** The message's offset in the sender's queue (0 unless stored). */
  userOffset: number;
}

function refused(code: number, details: string): MessageOutcome {
  return { code, details, signalId: '', userOffset: 0 };
}

export async function storeMessage(ctx: ServerContext, sender: Sender, message: InstanceType<typeof pb.Message>): Promise<MessageOutcome> {
  const problem = checkMessage(message, ctx.limits);
  if (problem) return refused(problem.code, problem.message);
  if (isSpoofed(sender, message.from)) return refused(Code.Forbidden, 'from does not match the authenticated identity');
  const to = message.to!;
  try {
    // SPEC §6 F7: a blocked sender's messages are refused; nothing is stored or delivered.
    if (!ctx.store.refusesBlockedOnAppend && (await ctx.contacts.isBlocked(to.eid!, sender.eid))) {
      return refused(Code.Forbidden, 'the recipient does not accept messages from you');
    }
    const appended = await ctx.store.appendMessage({
      senderEid: sender.eid,
      senderDevice: sender.device,
      clientId: message.id,
      recipientEid: to.eid!,
      recipientDevice: to.connectionResourceId ?? '',
      encodeBody: ({ signalId, storedAt }) => pb.Message.encode(storedForm(message, sender, signalId, storedAt)).finish(),
    });
    if (appended.duplicate) return { code: Code.Duplicate, details: 'already stored', signalId: appended.signalId, userOffset: appended.senderOffset };
    ctx.metrics.messageStored();
    ctx.publishEntries(appended.entries);
    return { code: Code.OK, details: '', signalId: appended.signalId, userOffset: appended.senderOffset };
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      const overloaded = err instanceof StoreOverloadedError;
      logRefusal(ctx, err, overloaded);
      return refused(Code.Unavailable, overloaded ? 'server overloaded, retry later' : 'storage unavailable, retry later');
    }
    // An engine that decides a refusal inside its transaction (PostgreSQL checks blocks under the
    // queue lock) answers with a ProtocolError carrying the SPEC §10 code.
    if (err instanceof ProtocolError) return refused(err.code, err.message);
    ctx.logger.error({ err }, 'storing a message failed');
    return refused(Code.Internal, 'internal error');
  }
}

/**
 * Under overload or a storage outage every send is refused: one line per interval per node, with
 * the number refused since the previous line, instead of one per message (bimip_acks_total{code="503"}
 * counts each).
 */
const refusalLogs = new WeakMap<ServerContext, LogThrottle>();

function logRefusal(ctx: ServerContext, err: StoreUnavailableError, overloaded: boolean): void {
  let throttle = refusalLogs.get(ctx);
  if (!throttle) {
    throttle = new LogThrottle(10_000);
    refusalLogs.set(ctx, throttle);
  }
  const refusedSinceLastLine = throttle.pass(ctx.clock.now());
  if (refusedSinceLastLine === undefined) return;
  const message = overloaded ? 'store overloaded; message refused with 503' : 'store unavailable; message refused with 503';
  ctx.logger.warn({ err: err.message, refusedSinceLastLine }, message);
}

/** The message as stored: server-assigned fields set, `from` the authenticated sender. */
function storedForm(message: InstanceType<typeof pb.Message>, sender: Sender, signalId: string, storedAt: number): MessageInit {
  return {
    id: message.id,
    signalId,
    from: identityOf(sender),
    to: { eid: message.to!.eid, connectionResourceId: message.to!.connectionResourceId },
    type: message.type === 0 ? MessageType.CHAT : message.type,
    timestamp: message.timestamp === 0 ? storedAt : message.timestamp,
    payload: message.payload,
    encryptionType: message.encryptionType,
    encrypted: message.encrypted,
    signature: message.signature,
    status: Status.SENT,
    serverTimestamp: storedAt,
  };
}
