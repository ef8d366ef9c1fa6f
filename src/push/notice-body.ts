/** The JSON a push webhook receives (SPEC §6 F9). */
import type { PushNotice } from '../core/push-hook.js';

/**
 * One push notice as POSTed: who to wake and why, never the content of a message (SPEC §6 F9,
 * §7.5). Keys are snake_case like the rest of the HTTP API.
 */
export interface PushNoticeBody {
  to: string;
  /** The recipient's devices that are offline (empty when none is known). */
  offline_devices: string[];
  from: string;
  signal_id: string;
  message_id: string;
  type: number;
  status: number;
  /** Epoch ms of the message or signal. */
  timestamp: number;
  /** 'entry' (something was stored in the queue) or 'calling' (a CALLING signal, SPEC §6 F5). */
  kind: 'entry' | 'calling';
}

/** Copies the allowed fields one by one, so nothing else a caller attached can reach the receiver. */
export function toNoticeBody(notice: PushNotice): PushNoticeBody {
  return {
    to: String(notice.to),
    offline_devices: notice.offlineDevices.map(String),
    from: String(notice.from),
    signal_id: String(notice.signalId),
    message_id: String(notice.messageId),
    type: Number(notice.type),
    status: Number(notice.status),
    timestamp: Number(notice.timestamp),
    kind: notice.kind,
  };
}
