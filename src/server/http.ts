/** Plain HTTP on the same port: GET /healthz, GET /metrics (SPEC §8), and the API routes (admin-api.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MessageStore } from '../core/message-store.js';
import type { ServerMetrics } from './metrics.js';

export type ApiHandler = (request: IncomingMessage, response: ServerResponse, path: string) => Promise<boolean>;

export function createHttpHandler(deps: { store: MessageStore; metrics: ServerMetrics; isDraining(): boolean; api?: ApiHandler }) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    try {
      if (deps.api && (await deps.api(request, response, path))) return;
      if (request.method === 'GET' && path === '/healthz') {
        if (deps.isDraining()) return json(response, 503, { status: 'shutting down' });
        try {
          await deps.store.ping();
          return json(response, 200, { status: 'ok' });
        } catch {
          return json(response, 503, { status: 'store unavailable' });
        }
      }
      if (request.method === 'GET' && path === '/metrics') {
        const body = await deps.metrics.registry.metrics();
        response.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
        response.end(body);
        return;
      }
      json(response, 404, { error: `no route for ${request.method} ${path}` });
    } catch {
      if (!response.headersSent) json(response, 500, { error: 'internal error' });
    }
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
