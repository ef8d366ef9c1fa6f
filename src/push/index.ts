/** The push webhook engine (SPEC §6 F9). */
export { WebhookPushHook, type WebhookPushHookOptions } from './webhook-push-hook.js';
export { verifySignature, signBody } from './signature.js';
export { toNoticeBody, type PushNoticeBody } from './notice-body.js';
export { backoffDelay, type BackoffPolicy } from './backoff.js';
