/** Plain HTTP on the same port: GET /healthz, GET /metrics (SPEC §8), and the API routes (admin-api.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StoreWritesFailingError } from '../core/errors.js';
import type { MessageStore } from '../core/message-store.js';
import { json } from './admin-http.js';
import type { ServerMetrics } from './metrics.js';
import { parseRequestTarget, type RequestTarget } from './request-target.js';

/** Answers a request of the API (admin-api.ts); false when the path is none of its routes. */
export type ApiHandler = (request: IncomingMessage, response: ServerResponse, target: RequestTarget) => Promise<boolean>;

/**
 * Extra routes mounted by the composition root (e.g. the web chat demo, src/cli/demo.ts), asked for
 * every path none of the server's own routes answered; true when it answered, false for a 404.
 */
export type HttpFallback = (request: IncomingMessage, response: ServerResponse, path: string) => Promise<boolean> | boolean;

export function createHttpHandler(deps: {
  store: MessageStore;
  metrics: ServerMetrics;
  isDraining(): boolean;
  api?: ApiHandler;
  fallback?: HttpFallback;
  onError?(err: unknown): void;
  degraded?(): string | undefined;
}) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    try {
      const target = parseRequestTarget(request.url);
      if (!target) return json(response, 400, { error: 'malformed request target' });
      const path = target.pathname;
      if (deps.api && (await deps.api(request, response, target))) return;
      if (request.method === 'GET' && path === '/healthz') {
        if (deps.isDraining()) return json(response, 503, { status: 'shutting down' });
        try {
          await withTimeout(deps.store.ping(), HEALTH_TIMEOUT_MS);
          // SPEC §11: Redis down leaves the node serving (sends are stored): degraded, not dead.
          const degraded = deps.degraded?.();
          return json(response, 200, degraded ? { status: 'degraded', reason: degraded } : { status: 'ok' });
        } catch (err) {
          // A load balancer acts on the 503; the status says which: writes failing (disk full) or down.
          return json(response, 503, { status: err instanceof StoreWritesFailingError ? 'store writes failing' : 'store unavailable' });
        }
      }
      if (request.method === 'GET' && path === '/metrics') {
        const body = await deps.metrics.registry.metrics();
        response.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
        response.end(body);
        return;
      }
      if (deps.fallback && (await deps.fallback(request, response, path))) return;
      json(response, 404, { error: `no route for ${request.method} ${path}` });
    } catch (err) {
      deps.onError?.(err);
      if (!response.headersSent) json(response, 500, { error: 'internal error' });
      else response.destroy();
    }
  };
}

/** A store that does not answer within this is reported unavailable (a partition must not hang the check). */
const HEALTH_TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
