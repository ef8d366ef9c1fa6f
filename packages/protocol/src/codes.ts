/** Wire numbers of SPEC §3, §9, §10 and the WebSocket close codes of §2. */

/** MessageScheme.route: equals the field number of the payload that is set (SPEC §3). */
export const Route = {
  Awareness: 2,
  PingPong: 3,
  AwarenessVisibility: 4,
  TokenAuthority: 5,
  Message: 6,
  Body: 9,
  Error: 10,
  Logout: 11,
  Signal: 12,
  Ack: 13,
  OffsetCommit: 14,
  Sync: 15,
  Contact: 16,
} as const;
export type RouteNumber = (typeof Route)[keyof typeof Route];

/** The oneof field name of MessageScheme for each route. */
export const PAYLOAD_FIELD_BY_ROUTE: Readonly<Record<number, string>> = {
  2: 'awareness',
  3: 'pingPong',
  4: 'awarenessVisibility',
  5: 'tokenAuthority',
  6: 'message',
  9: 'body',
  10: 'error',
  11: 'logout',
  12: 'signal',
  13: 'ack',
  14: 'offsetCommit',
  15: 'sync',
  16: 'contact',
};

/** The route of each payload field (the inverse of PAYLOAD_FIELD_BY_ROUTE). */
export const ROUTE_BY_FIELD: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(PAYLOAD_FIELD_BY_ROUTE).map(([route, field]) => [field, Number(route)]),
);

/** ErrorMessage.code and Ack.code (SPEC §10). */
export const Code = {
  OK: 200,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Timeout: 408,
  Duplicate: 409,
  Gone: 410,
  TooLarge: 413,
  RateLimited: 429,
  Internal: 500,
  Unavailable: 503,
} as const;

/** WebSocket close codes (SPEC §2). */
export const CloseCode = {
  GoingAway: 1001,
  PolicyViolation: 1008,
  TooBig: 1009,
  Unauthorized: 4001,
  IdleTimeout: 4008,
  Replaced: 4009,
  /** The device's socket stayed over its send-buffer limit: it does not read (issue #7; Centrifugo's 3008). */
  SlowConsumer: 4010,
  /** The user already has the most devices allowed (BIMIP_MAX_DEVICES_PER_USER); log one out first. */
  DeviceLimit: 4011,
} as const;

/** Message.status / Signal.status (SPEC §9): 1–5 durable, 6–12 transient. */
export const Status = {
  SENT: 1,
  DELIVERED: 2,
  READ: 3,
  FORWARDED: 4,
  PLAYED: 5,
  TYPING: 6,
  RECORDING: 7,
  PAUSED: 8,
  CANCELLED: 9,
  RESUME: 10,
  CALLING: 11,
  DECLINE: 12,
} as const;

export const MessageType = { CHAT: 1, PUSH_NOTIFICATION: 2 } as const;
export const SyncType = { REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;
export const PingType = { PING: 1, PONG: 2, ERROR: 3 } as const;
/** Contact.action (SPEC §4, §6 F7). */
export const ContactAction = { SUBSCRIBE: 1, APPROVE: 2, DENY: 3, UNSUBSCRIBE: 4, BLOCK: 5, UNBLOCK: 6, LIST: 7 } as const;
/** ContactEntry.relation, seen from the listing user. */
export const Relation = { SUBSCRIBED: 1, PENDING_OUT: 2, PENDING_IN: 3, BLOCKED: 4 } as const;
/** TokenAuthority.type and .task (SPEC §4). */
export const TokenAuthorityType = { REFRESH: 1, VALIDATE: 2, REVOKE: 3 } as const;
export const TokenTask = { REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;
/** Logout.type and .status (SPEC §4). */
export const LogoutType = { DEVICE: 1, ACCOUNT: 2 } as const;
export const LogoutStatus = { INITIATED: 0, SUCCESS: 1, FAILED: 2 } as const;
export const AwarenessStatus = { ONLINE: 1, OFFLINE: 2, AWAY: 3, BUSY: 4, DND: 5 } as const;
export const RequestType = { REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;
export const VisibilityType = { ENABLED: 1, DISABLED: 2, ERROR: 3 } as const;
export const LocationSharing = { ENABLED: 1, DISABLED: 2 } as const;
