/**
 * Field rules for frames a client sends (SPEC §2 limits, §4 value ranges). Each check returns a
 * FrameError describing the first broken rule, or undefined when the frame is acceptable.
 */
import { Code, MessageType, PingType, Route, SyncType } from './codes.js';
import { FrameError, utf8Length } from './codec.js';
import type { ProtocolLimits } from './limits.js';
import type { Awareness, AwarenessVisibility, Contact, IdentityInit, Message, OffsetCommit, PingPong, Signal, Sync } from './schema.js';

function bad(route: number, id: string, details: string): FrameError {
  return new FrameError(Code.BadRequest, details, route, id);
}

function idProblem(value: string, limits: ProtocolLimits, what: string, optional = false): string | undefined {
  const length = utf8Length(value);
  if (length === 0) return optional ? undefined : `${what} is required`;
  if (length > limits.maxIdBytes) return `${what} is longer than ${limits.maxIdBytes} bytes`;
  return undefined;
}

function identityProblem(identity: IdentityInit | null | undefined, limits: ProtocolLimits, what: string): string | undefined {
  const eid = identity?.eid ?? '';
  const eidLength = utf8Length(eid);
  if (eidLength === 0) return `${what}.eid is required`;
  if (eidLength > limits.maxEidBytes) return `${what}.eid is longer than ${limits.maxEidBytes} bytes`;
  return idProblem(identity?.connectionResourceId ?? '', limits, `${what}.connection_resource_id`, true);
}

/** A Message from a client (SPEC §6 F1 step 1); `from` is checked against the session by the handler. */
export function checkMessage(message: Message, limits: ProtocolLimits): FrameError | undefined {
  const id = message.id;
  const route = Route.Message;
  // `from` is not checked here: any value other than the session's own identity is a 403 (SPEC §4).
  const problem = idProblem(id, limits, 'id') ?? identityProblem(message.to, limits, 'to');
  if (problem) return bad(route, id, problem);
  if (message.type !== 0 && message.type !== MessageType.CHAT && message.type !== MessageType.PUSH_NOTIFICATION) {
    return bad(route, id, `type ${message.type} is not 1 (CHAT) or 2 (PUSH_NOTIFICATION)`);
  }
  if (message.status !== 0 && message.status !== 1) {
    return bad(route, id, `status ${message.status} is not valid on a Message (the server sets 1=SENT)`);
  }
  if (message.timestamp < 0) return bad(route, id, 'timestamp is negative');
  if (utf8Length(message.encryptionType) > limits.maxIdBytes) {
    return bad(route, id, `encryption_type is longer than ${limits.maxIdBytes} bytes`);
  }
  const content = message.payload.length + utf8Length(message.encrypted) + utf8Length(message.signature);
  if (content > limits.maxContentBytes) {
    return new FrameError(Code.TooLarge, `content (payload + encrypted + signature) is ${content} bytes; the limit is ${limits.maxContentBytes}`, route, id);
  }
  return undefined;
}

export function checkOffsetCommit(commit: OffsetCommit): FrameError | undefined {
  if (!Number.isSafeInteger(commit.userOffset) || commit.userOffset < 0) {
    return bad(Route.OffsetCommit, '', 'user_offset is not a valid offset');
  }
  return undefined;
}

export function checkSyncRequest(sync: Sync, limits: ProtocolLimits): FrameError | undefined {
  const problem = idProblem(sync.id, limits, 'id');
  if (problem) return bad(Route.Sync, sync.id, problem);
  if (sync.type !== SyncType.REQUEST) return bad(Route.Sync, sync.id, `type ${sync.type} is not 1 (REQUEST)`);
  if (!Number.isSafeInteger(sync.afterOffset) || sync.afterOffset < 0) {
    return bad(Route.Sync, sync.id, 'after_offset is not a valid offset');
  }
  return undefined;
}

export function checkPingPong(ping: PingPong, limits: ProtocolLimits): FrameError | undefined {
  const problem = idProblem(ping.id, limits, 'id', true);
  if (problem) return bad(Route.PingPong, ping.id, problem);
  if (ping.type !== PingType.PING && ping.type !== PingType.PONG) {
    return bad(Route.PingPong, ping.id, `type ${ping.type} is not 1 (PING) or 2 (PONG)`);
  }
  return undefined;
}

const MAX_DETAILS_BYTES = 1024;

/** Signal (SPEC §4, §6 F4–F5): receipts 2–5 need the message's signal_id; transient 6–12 do not. */
export function checkSignal(signal: Signal, limits: ProtocolLimits): FrameError | undefined {
  const route = Route.Signal;
  const problem = idProblem(signal.id, limits, 'id') ?? identityProblem(signal.to, limits, 'to');
  if (problem) return bad(route, signal.id, problem);
  if (!Number.isInteger(signal.status) || signal.status < 2 || signal.status > 12) {
    return bad(route, signal.id, `status ${signal.status} is not a receipt (2–5) or a transient signal (6–12)`);
  }
  if (signal.status <= 5 && !/^[1-9]\d{0,15}$/.test(signal.signalId)) {
    return bad(route, signal.id, 'a receipt needs the signal_id of the message it is about');
  }
  if (signal.timestamp < 0) return bad(route, signal.id, 'timestamp is negative');
  return undefined;
}

/** Awareness REQUEST (SPEC §6 F6): with `to` and status 0 a query, else a device setting its state. */
export function checkAwareness(awareness: Awareness, limits: ProtocolLimits): FrameError | undefined {
  const route = Route.Awareness;
  const id = awareness.id;
  const idIssue = idProblem(id, limits, 'id', true);
  if (idIssue) return bad(route, id, idIssue);
  if (awareness.type !== 1) return bad(route, id, `type ${awareness.type} is not 1 (REQUEST)`);
  if (awareness.to && (awareness.to.eid || awareness.to.connectionResourceId)) {
    const toIssue = identityProblem(awareness.to, limits, 'to');
    if (toIssue) return bad(route, id, toIssue);
    if (awareness.status !== 0) return bad(route, id, 'a query (with `to`) has status 0');
    return undefined;
  }
  if (![1, 3, 4, 5].includes(awareness.status)) {
    return bad(route, id, `status ${awareness.status} cannot be set: use 1 ONLINE, 3 AWAY, 4 BUSY or 5 DND`);
  }
  if (![0, 1, 2].includes(awareness.locationSharing)) return bad(route, id, `location_sharing ${awareness.locationSharing} is not 1 or 2`);
  if (!Number.isInteger(awareness.ttl) || awareness.ttl < 0) return bad(route, id, 'ttl is negative');
  if (!(Math.abs(awareness.latitude) <= 90) || !(Math.abs(awareness.longitude) <= 180)) {
    return bad(route, id, 'latitude/longitude out of range');
  }
  if (utf8Length(awareness.details) > MAX_DETAILS_BYTES) return bad(route, id, `details is longer than ${MAX_DETAILS_BYTES} bytes`);
  if (awareness.timestamp < 0) return bad(route, id, 'timestamp is negative');
  return undefined;
}

/** AwarenessVisibility (SPEC §6 F6): 1 visible, 2 hidden. */
export function checkVisibility(visibility: AwarenessVisibility, limits: ProtocolLimits): FrameError | undefined {
  const route = Route.AwarenessVisibility;
  const idIssue = idProblem(visibility.id, limits, 'id', true);
  if (idIssue) return bad(route, visibility.id, idIssue);
  if (visibility.type !== 1 && visibility.type !== 2) {
    return bad(route, visibility.id, `type ${visibility.type} is not 1 (ENABLED) or 2 (DISABLED)`);
  }
  return undefined;
}

/** Contact REQUEST (SPEC §6 F7): actions 1–6 name the other user in `to`; LIST (7) does not. */
export function checkContact(contact: Contact, limits: ProtocolLimits): FrameError | undefined {
  const route = Route.Contact;
  const idIssue = idProblem(contact.id, limits, 'id');
  if (idIssue) return bad(route, contact.id, idIssue);
  if (contact.type !== 1) return bad(route, contact.id, `type ${contact.type} is not 1 (REQUEST)`);
  if (!Number.isInteger(contact.action) || contact.action < 1 || contact.action > 7) {
    return bad(route, contact.id, `action ${contact.action} is not 1–7`);
  }
  if (contact.action !== 7) {
    const toIssue = identityProblem(contact.to, limits, 'to');
    if (toIssue) return bad(route, contact.id, toIssue);
  }
  if (utf8Length(contact.details) > MAX_DETAILS_BYTES) return bad(route, contact.id, `details is longer than ${MAX_DETAILS_BYTES} bytes`);
  return undefined;
}
