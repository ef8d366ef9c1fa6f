/**
 * Field rules for frames a client sends (SPEC §2 limits, §4 value ranges). Each check returns a
 * FrameError describing the first broken rule, or undefined when the frame is acceptable.
 */
import { Code, MessageType, PingType, Route, SyncType } from './codes.js';
import { FrameError, utf8Length } from './codec.js';
import type { ProtocolLimits } from './limits.js';
import type { IdentityInit, Message, OffsetCommit, PingPong, Sync } from './schema.js';

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
    return new FrameError(
      Code.TooLarge,
      `content (payload + encrypted + signature) is ${content} bytes; the limit is ${limits.maxContentBytes}`,
      route,
      id,
    );
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
