/**
 * Route 16 — SPEC §6 F7: SUBSCRIBE, APPROVE (mutual), DENY, UNSUBSCRIBE (both ways), BLOCK, UNBLOCK
 * are stored with their queue entries in one transaction; LIST answers the user's contacts. The
 * requesting device gets a RESPONSE with the request's id, or an ErrorMessage.
 */
import { Code, ContactAction, RequestType, Route, checkContact, pb, type Contact } from '../../protocol/index.js';
import type { ContactOutcome } from '../../core/types.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { identityOf, isSpoofed } from '../sender.js';

export async function handleContact(session: DeviceSession, contact: Contact, ctx: ServerContext): Promise<void> {
  const problem = checkContact(contact, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.Contact, problem.message, contact.id);
  if (isSpoofed(session.sender, contact.from)) {
    return session.sendError(Code.Forbidden, Route.Contact, 'from does not match the authenticated identity', contact.id);
  }
  const now = ctx.clock.now();
  if (contact.action === ContactAction.LIST) {
    const entries = await ctx.contacts.listContacts(session.eid);
    return session.send('contact', { id: contact.id, action: ContactAction.LIST, type: RequestType.RESPONSE, entries, timestamp: now });
  }
  const other = contact.to!.eid!;
  if (other === session.eid) return session.sendError(Code.BadRequest, Route.Contact, 'a contact action needs another user', contact.id);

  const body = pb.Contact.encode({
    id: contact.id,
    from: identityOf(session.sender),
    to: { eid: other },
    action: contact.action,
    type: RequestType.REQUEST,
    timestamp: contact.timestamp || now,
    details: contact.details,
  }).finish();
  const outcome = await ctx.contacts.applyContactAction({
    action: contact.action,
    actorEid: session.eid,
    actorDevice: session.deviceId,
    otherEid: other,
    body,
  });
  if (outcome.result === 'not-pending') {
    return session.sendError(Code.NotFound, Route.Contact, 'no pending subscription request from this user', contact.id);
  }
  if (outcome.result === 'blocked') return session.sendError(Code.Forbidden, Route.Contact, 'this user does not accept requests', contact.id);
  if (outcome.result === 'limit') return session.sendError(Code.Forbidden, Route.Contact, limitDetails(outcome), contact.id);
  session.send('contact', { id: contact.id, to: { eid: other }, action: contact.action, type: RequestType.RESPONSE, timestamp: now });
  if (outcome.result !== 'applied') return;
  ctx.publishEntries(outcome.entries);
  if (contact.action === ContactAction.APPROVE) {
    // Now subscribed to each other: each side learns the other's current awareness.
    await ctx.presence.introduce(other, session.eid);
    await ctx.presence.introduce(session.eid, other);
  }
}

/** Issue #7: which per-user limit refused the action, and what frees room. */
function limitDetails(outcome: Extract<ContactOutcome, { result: 'limit' }>): string {
  if (outcome.list === 'blocks') return `block list is full (${outcome.max} entries); unblock someone first`;
  if (outcome.owner === 'actor') return `contact list is full (${outcome.max} entries); unsubscribe from someone or deny a request first`;
  return `this user's contact list is full (${outcome.max} entries)`;
}
