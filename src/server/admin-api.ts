/**
 * The HTTP API on the node's port (issue #4): token issuing and lifecycle, a backend sending
 * messages as a user or as the system, with the same durability and idempotency as the socket, and
 * the operator endpoints (admin-operator.ts). JSON in and out; every error is a 4xx/5xx with
 * {"error": "..."}. One handler per route; each route declares its method (another answers 405).
 *
 *   POST /v1/tokens             (admin) {eid, device, ttl_seconds?, refresh_ttl_seconds?} → a pair
 *   POST /v1/tokens/refresh             {refresh_token} → a new pair (rotation; reuse revokes the family)
 *   POST /v1/tokens/validate    (admin) {token} → {valid, eid, device, expires_at} | {valid: false, error}
 *   POST /v1/tokens/revoke      (admin) {token} | {jti} → {revoked, closed_connections}
 *   POST /v1/messages           (admin) {id, to, from?, type?, payload? | payload_base64?, …} → the Ack as JSON
 *   POST /v1/connections/close  (admin) {eid, device?, code?, reason?} → {closed_connections}
 *   GET  /v1/status             (admin) [?eid=E] → the node's status [and the user's queue]
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError } from '../core/errors.js';
import { MAX_ACCESS_TTL_SECONDS, MAX_REFRESH_TTL_SECONDS, TokenError, type TokenPair } from '../auth/token-service.js';
import { pb } from '../protocol/index.js';
import { checkAdmin, HttpError, integer, type Json, json, readJson, str } from './admin-http.js';
import { closeConnections, type NodeStatus, status } from './admin-operator.js';
import type { ServerContext } from './context.js';
import type { RequestTarget } from './request-target.js';
import { storeMessage } from './store-message.js';

/** The sender the admin API uses when a request names no `from`. */
export const SYSTEM_SENDER = { eid: 'system', device: 'admin-api' } as const;

export interface AdminApiOptions {
  /** Bearer token of the admin endpoints; undefined disables them. */
  adminToken: string | undefined;
  maxBodyBytes: number;
  /** What GET /v1/status reports about this node. */
  node: NodeStatus;
}

interface AdminRequest {
  /** The JSON body of a POST; {} for a GET. */
  body: Json;
  query: URLSearchParams;
}

interface AdminRoute {
  method: 'GET' | 'POST';
  /** Needs the admin bearer. */
  admin: boolean;
  handle(request: AdminRequest): Promise<[number, Json]> | [number, Json];
}

export function createAdminApi(ctx: ServerContext, options: AdminApiOptions) {
  const routes: Record<string, AdminRoute> = {
    '/v1/tokens': { method: 'POST', admin: true, handle: ({ body }) => issueTokens(ctx, body) },
    '/v1/tokens/refresh': { method: 'POST', admin: false, handle: ({ body }) => refreshTokens(ctx, body) },
    '/v1/tokens/validate': { method: 'POST', admin: true, handle: ({ body }) => validateToken(ctx, body) },
    '/v1/tokens/revoke': { method: 'POST', admin: true, handle: ({ body }) => revokeToken(ctx, body) },
    '/v1/messages': { method: 'POST', admin: true, handle: ({ body }) => sendMessage(ctx, body) },
    '/v1/connections/close': { method: 'POST', admin: true, handle: ({ body }) => closeConnections(ctx, body) },
    '/v1/status': { method: 'GET', admin: true, handle: ({ query }) => status(ctx, options.node, query) },
  };

  /** Answers the request if it is for the API; false when the path is not one of its routes. */
  return async (request: IncomingMessage, response: ServerResponse, target: RequestTarget): Promise<boolean> => {
    const path = target.pathname;
    const route = routes[path];
    if (!route) return false;
    try {
      if (request.method !== route.method) throw new HttpError(405, `use ${route.method} for ${path}`);
      if (route.admin) checkAdmin(request, options.adminToken);
      const body = route.method === 'POST' ? await readJson(request, options.maxBodyBytes) : {};
      const [code, result] = await route.handle({ body, query: target.query });
      json(response, code, result);
    } catch (err) {
      if (err instanceof HttpError) {
        json(response, err.status, { error: err.message });
        return true;
      }
      ctx.logger.error({ err, path }, 'admin API request failed');
      json(response, 500, { error: 'internal error' });
    }
    return true;
  };
}

/** Latest `timestamp` accepted (epoch ms of 9999-12-31T23:59:59.999Z): later is surely a bug, and stays exact in a double. */
const MAX_TIMESTAMP_MS = 253_402_300_799_999;

function pairJson(pair: TokenPair): Json {
  return {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: 'Bearer',
    eid: pair.eid,
    device: pair.device,
    expires_at: pair.accessExpiresAt,
    refresh_expires_at: pair.refreshExpiresAt,
  };
}

function tokenFailure(err: unknown): never {
  if (err instanceof TokenError) throw new HttpError(err.code === 401 ? 401 : err.code, err.message);
  if (err instanceof AuthError) throw new HttpError(401, err.message);
  throw err;
}

async function issueTokens(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const eid = str(body, 'eid');
  const device = str(body, 'device');
  if (Buffer.byteLength(eid) > ctx.limits.maxEidBytes || Buffer.byteLength(device) > ctx.limits.maxIdBytes) {
    throw new HttpError(400, 'eid or device too long');
  }
  if (!ctx.tokens.canIssue) throw new HttpError(400, 'tokens are issued by an external signer');
  const pair = await ctx.tokens.issuePair(eid, device, {
    accessTtlSeconds: integer(body, 'ttl_seconds', 1, MAX_ACCESS_TTL_SECONDS),
    refreshTtlSeconds: integer(body, 'refresh_ttl_seconds', 1, MAX_REFRESH_TTL_SECONDS),
  });
  // Admin actions are logged by id, never with a token (SPEC §7.5).
  ctx.logger.info({ eid, device, jti: pair.jti, expiresAt: pair.accessExpiresAt }, 'admin: tokens issued');
  return [201, pairJson(pair)];
}

async function refreshTokens(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  try {
    return [200, pairJson(await ctx.tokens.refresh(str(body, 'refresh_token')))];
  } catch (err) {
    return tokenFailure(err);
  }
}

async function validateToken(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  try {
    const principal = await ctx.tokens.validate(str(body, 'token'));
    return [200, { valid: true, eid: principal.eid, device: principal.deviceId, expires_at: principal.expiresAt }];
  } catch (err) {
    if (err instanceof AuthError) return [200, { valid: false, error: err.message }];
    throw err;
  }
}

async function revokeToken(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const target = str(body, 'token', false) || str(body, 'jti', false);
  if (!target) throw new HttpError(400, 'token or jti is required');
  try {
    const { jtis, eid } = await ctx.tokens.revoke(target);
    const closed = ctx.router.revoked(jtis);
    ctx.logger.info({ eid, jtis, closed }, 'admin: tokens revoked');
    return [200, { revoked: jtis, closed_connections: closed }];
  } catch (err) {
    return tokenFailure(err);
  }
}

function identity(value: unknown, field: string): { eid: string; device: string } {
  if (typeof value === 'string') return { eid: value, device: '' };
  if (typeof value !== 'object' || value === null) throw new HttpError(400, `${field} must be an eid or {eid, device}`);
  const record = value as Json;
  return { eid: str(record, 'eid'), device: str(record, 'device', false) };
}

async function sendMessage(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const to = identity(body['to'], 'to');
  const sender =
    body['from'] === undefined
      ? SYSTEM_SENDER
      : (() => {
          const from = identity(body['from'], 'from');
          return { eid: from.eid, device: from.device || SYSTEM_SENDER.device };
        })();
  let payload: Uint8Array = new Uint8Array();
  if (body['payload_base64'] !== undefined) payload = Buffer.from(str(body, 'payload_base64'), 'base64');
  else if (body['payload'] !== undefined) {
    const value = body['payload'];
    payload = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  }
  // SPEC §4: type 1 CHAT, 2 PUSH_NOTIFICATION (0 is read as 1); timestamp in epoch ms (0 = the server's).
  const type = integer(body, 'type', 0, 2) ?? 1;
  const timestamp = integer(body, 'timestamp', 0, MAX_TIMESTAMP_MS) ?? 0;
  const message = pb.Message.create({
    id: str(body, 'id'),
    to: { eid: to.eid, connectionResourceId: to.device },
    type,
    timestamp,
    payload,
    encryptionType: str(body, 'encryption_type', false),
    encrypted: str(body, 'encrypted', false),
    signature: str(body, 'signature', false),
  });
  const outcome = await storeMessage(ctx, sender, message);
  ctx.metrics.ack(outcome.code);
  ctx.logger.info(
    { id: message.id, eid: sender.eid, device: sender.device, to: to.eid, toDevice: to.device || '*', code: outcome.code, signalId: outcome.signalId },
    'admin: message sent',
  );
  const result: Json = { code: outcome.code, id: message.id, signal_id: outcome.signalId, user_offset: outcome.userOffset };
  if (outcome.code === 200 || outcome.code === 409) return [outcome.code, { ...result, status: 1 }];
  return [outcome.code, { ...result, error: outcome.details }];
}
