/**
 * Valid frames of every route, as a well-behaved client would send them (SPEC §3, §4), plus the
 * routes only the server sends (9 Body, 10 ErrorMessage, 13 Ack) as a client would forge them.
 * They are the seeds the mutator starts from; some are sent unchanged, so the fuzz also drives real
 * state changes (stored messages, receipts, contacts, commits, logouts) that mutated frames race with.
 */
import { Route, encodeFrame, type Frame, type IdentityInit } from '../../src/protocol/index.js';
import type { Prng } from './prng.js';

/** What a connection slot knows when it builds a frame. */
export interface TemplateContext {
  eid: string;
  device: string;
  /** eids this slot may name in `to`: other fuzz users and sinks, never a protected user (see store-check.ts). */
  peers: readonly string[];
  accessToken: string;
  /** A refresh token of this slot's user, if one was issued. */
  refreshToken: string | undefined;
  /** A protected user's access token: only VALIDATEd or REVOKEd here, and a REVOKE of it must be refused (not ours). */
  foreignAccessToken: string | undefined;
  /** signal_ids seen so far (Acks, pushed messages), and those of protected users' messages (receipts for them must be refused). */
  signalIds: readonly string[];
  /** The highest user_offset this connection has seen. */
  head: number;
}

export interface Template {
  route: number;
  bytes: Uint8Array;
}

/** Routes a client may send, and the server-only routes a client must not (SPEC §3). */
export const CLIENT_ROUTES: readonly number[] = [2, 3, 4, 5, 6, 11, 12, 14, 15, 16];
export const SERVER_ONLY_ROUTES: readonly number[] = [Route.Body, Route.Error, Route.Ack];

/** Logout ends the connection when valid, so it is rarer; Message and Signal reach the store, so they are common. */
const ROUTE_WEIGHTS: ReadonlyArray<readonly [number, number]> = [
  [Route.Awareness, 8],
  [Route.PingPong, 6],
  [Route.AwarenessVisibility, 4],
  [Route.TokenAuthority, 4],
  [Route.Message, 20],
  [Route.Logout, 1],
  [Route.Signal, 12],
  [Route.OffsetCommit, 6],
  [Route.Sync, 5],
  [Route.Contact, 10],
  [Route.Body, 2],
  [Route.Error, 2],
  [Route.Ack, 2],
];

type Builder = (rng: Prng, ctx: TemplateContext) => Frame['value'] | object;

function id(rng: Prng): string {
  return rng.chance(0.05) ? 'i'.repeat(128) : rng.word(1, 24);
}

function peer(rng: Prng, ctx: TemplateContext): IdentityInit {
  return { eid: rng.pick(ctx.peers), connectionResourceId: rng.chance(0.2) ? rng.pick(['d0', 'phone', ctx.device]) : '' };
}

/** `from` is optional; when set it must be exactly the session's identity (SPEC §4). */
function ownFrom(rng: Prng, ctx: TemplateContext): IdentityInit | undefined {
  return rng.chance(0.3) ? { eid: ctx.eid, connectionResourceId: ctx.device } : undefined;
}

function timestamp(rng: Prng): number {
  return rng.chance(0.5) ? 0 : Date.now() - rng.int(60_000);
}

const BUILDERS: Record<number, [Frame['field'], Builder]> = {
  [Route.Awareness]: [
    'awareness',
    (rng, ctx) =>
      rng.chance(0.5)
        ? {
            id: id(rng),
            type: 1,
            from: ownFrom(rng, ctx),
            status: rng.pick([1, 3, 4, 5]),
            locationSharing: rng.pick([0, 1, 2]),
            latitude: rng.next() * 180 - 90,
            longitude: rng.next() * 360 - 180,
            ttl: rng.pick([0, 0, 1, 60, 3600]),
            details: rng.word(0, 20),
            timestamp: timestamp(rng),
          }
        : { id: id(rng), type: 1, to: { eid: rng.pick(ctx.peers) }, status: 0, timestamp: timestamp(rng) },
  ],
  [Route.PingPong]: [
    'pingPong',
    (rng) => ({ id: rng.chance(0.1) ? '' : id(rng), type: rng.pick([1, 1, 2]), timestamp: timestamp(rng), details: rng.word(0, 8) }),
  ],
  [Route.AwarenessVisibility]: [
    'awarenessVisibility',
    (rng, ctx) => ({ id: id(rng), from: ownFrom(rng, ctx), type: rng.pick([1, 2]), timestamp: timestamp(rng) }),
  ],
  [Route.TokenAuthority]: [
    'tokenAuthority',
    (rng, ctx) => {
      const type = rng.weighted([
        [2, 4], // VALIDATE
        [3, 3], // REVOKE
        [1, 2], // REFRESH
      ] as const);
      let token: string;
      if (type === 1) token = ctx.refreshToken ?? rng.word(10, 40);
      else if (type === 2) token = rng.chance(0.7) ? ctx.accessToken : (ctx.foreignAccessToken ?? ctx.accessToken);
      // Revoking one's own access token is legitimate (the connection then closes with 4001), but rarer.
      else
        token = rng.weighted([
          [ctx.foreignAccessToken ?? rng.word(8, 36), 6],
          [rng.word(8, 36), 3],
          [ctx.accessToken, 1],
        ] as const);
      return { type, task: 1, token, timestamp: timestamp(rng) };
    },
  ],
  [Route.Message]: [
    'message',
    (rng, ctx) => ({
      id: id(rng),
      from: ownFrom(rng, ctx),
      to: peer(rng, ctx),
      type: rng.pick([0, 1, 2]),
      timestamp: timestamp(rng),
      payload: rng.bytes(rng.int(64)),
      encryptionType: rng.pick(['', 'none', 'AES256', 'E2E']),
      encrypted: rng.chance(0.2) ? Buffer.from(rng.bytes(rng.int(48))).toString('base64') : '',
      signature: rng.chance(0.2) ? Buffer.from(rng.bytes(32)).toString('base64') : '',
      status: rng.pick([0, 1]),
    }),
  ],
  [Route.Logout]: [
    'logout',
    (rng) => ({
      type: rng.weighted([
        [1, 3],
        [2, 1],
      ] as const),
      status: 0,
      timestamp: timestamp(rng),
    }),
  ],
  [Route.Signal]: [
    'signal',
    (rng, ctx) => {
      const receipt = rng.chance(0.5) && ctx.signalIds.length > 0;
      return {
        id: id(rng),
        signalId: receipt ? rng.pick(ctx.signalIds) : '',
        from: ownFrom(rng, ctx),
        to: peer(rng, ctx),
        status: receipt ? rng.range(2, 5) : rng.range(6, 12),
        timestamp: timestamp(rng),
      };
    },
  ],
  [Route.OffsetCommit]: [
    'offsetCommit',
    (rng, ctx) => ({ userOffset: rng.pick([0, ctx.head, ctx.head + 1, rng.int(ctx.head + 1)]), timestamp: timestamp(rng) }),
  ],
  [Route.Sync]: [
    'sync',
    (rng, ctx) => ({ id: id(rng), type: 1, afterOffset: Math.max(0, ctx.head - rng.int(8)), limit: rng.range(0, 20), timestamp: timestamp(rng) }),
  ],
  [Route.Contact]: [
    'contact',
    (rng, ctx) => {
      const action = rng.range(1, 7);
      return {
        id: id(rng),
        from: ownFrom(rng, ctx),
        to: action === 7 ? undefined : { eid: rng.pick(ctx.peers) },
        action,
        type: 1,
        timestamp: timestamp(rng),
        details: rng.word(0, 16),
      };
    },
  ],
  [Route.Body]: [
    'body',
    (rng, ctx) => ({ route: Route.Awareness, awarenessList: [{ from: { eid: rng.pick(ctx.peers) }, type: 2, status: 1 }], timestamp: timestamp(rng) }),
  ],
  [Route.Error]: [
    'error',
    (rng) => ({ code: rng.pick([400, 403, 500]), errorOrigin: rng.pick([6, 12]), details: rng.word(0, 20), id: id(rng), timestamp: timestamp(rng) }),
  ],
  [Route.Ack]: [
    'ack',
    (rng, ctx) => ({
      id: id(rng),
      signalId: ctx.signalIds.length > 0 ? rng.pick(ctx.signalIds) : '1',
      userOffset: rng.int(100),
      status: 1,
      code: 200,
      timestamp: timestamp(rng),
    }),
  ],
};

/** A valid frame of `route` (default: a weighted random route). */
export function validFrame(rng: Prng, ctx: TemplateContext, route: number = rng.weighted(ROUTE_WEIGHTS)): Template {
  const [field, build] = BUILDERS[route]!;
  return { route, bytes: encodeFrame(field, build(rng, ctx)) };
}
