/** One signed webhook POST (SPEC §6 F9), bounded in time and abortable by shutdown. */
import { signBody } from './signature.js';

export interface WebhookRequest {
  url: string;
  secret: string;
  /** The delivery id (X-Bimip-Delivery). */
  deliveryId: number;
  /** The exact JSON body; these bytes are signed. */
  body: string;
  /** X-Bimip-Timestamp, epoch ms. */
  timestamp: number;
  timeoutMs: number;
  /** Aborts the POST when the hook closes. */
  shutdown: AbortSignal;
}

/** What came of one POST: an HTTP status (0 when none), or `aborted` by shutdown. */
export type WebhookOutcome = { kind: 'answered'; status: number } | { kind: 'failed'; status: 0; reason: 'timeout' | 'network' } | { kind: 'aborted' };

/** POSTs the body with its headers; never rejects. */
export async function postWebhook(request: WebhookRequest): Promise<WebhookOutcome> {
  const abort = requestSignal(request.timeoutMs, request.shutdown);
  let status: number | undefined;
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'bimip-push/1',
        'x-bimip-signature': signBody(request.body, request.secret),
        'x-bimip-delivery': String(request.deliveryId),
        'x-bimip-timestamp': String(request.timestamp),
      },
      body: request.body,
      // A redirect is a failure: the signed notice goes to the configured URL only.
      redirect: 'manual',
      signal: abort.signal,
    });
    status = response.status;
    // Drain the body so the connection can be reused; the same timeout covers it.
    await response.arrayBuffer().catch(() => undefined);
    return { kind: 'answered', status };
  } catch (error) {
    if (status !== undefined) return { kind: 'answered', status };
    // Aborted by close(): not the receiver's fault, so the caller does not count an attempt.
    if (request.shutdown.aborted) return { kind: 'aborted' };
    return { kind: 'failed', status: 0, reason: isTimeout(error) ? 'timeout' : 'network' };
  } finally {
    abort.dispose();
  }
}

/**
 * The per-request timeout joined with the shutdown signal. Hand-rolled rather than AbortSignal.any
 * (Node >= 20.3 only), with `dispose` so the long-lived shutdown signal keeps no listener per POST.
 */
function requestSignal(timeoutMs: number, shutdown: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timeout = AbortSignal.timeout(timeoutMs);
  const onTimeout = () => controller.abort(timeout.reason);
  const onShutdown = () => controller.abort(shutdown.reason);
  timeout.addEventListener('abort', onTimeout, { once: true });
  shutdown.addEventListener('abort', onShutdown, { once: true });
  if (shutdown.aborted) onShutdown();
  return {
    signal: controller.signal,
    dispose() {
      timeout.removeEventListener('abort', onTimeout);
      shutdown.removeEventListener('abort', onShutdown);
    },
  };
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || (error.cause instanceof Error && error.cause.name === 'TimeoutError'));
}
