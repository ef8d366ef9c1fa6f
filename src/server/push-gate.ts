/**
 * The one gate every push notice passes before the push hook (SPEC §6 F5, F9; issue #7, where
 * CALLINGs to eids that never connected made 2,000 webhook POSTs):
 * - a notice is only for the recipient's known devices (those with a cursor: they connected
 *   before) that are offline on every node, as the presence store knows it; a user with no known
 *   device gets none;
 * - each sender raises at most `perSecond` notices per second, in bursts of `burst` (a token bucket
 *   per sender eid), whatever the kind and whoever the recipients.
 * Refused notices are counted (`bimip_push_notices_gated_total{reason}`) and logged at debug only.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { PresenceStore } from '../core/presence-store.js';
import type { PushHook, PushNotice } from '../core/push-hook.js';
import type { DeviceId } from '../core/types.js';
import type { ServerMetrics } from './metrics.js';
import { SenderBuckets } from './sender-buckets.js';

/** The per-sender push limit (BimipServerOptions.pushLimit). */
export interface PushLimit {
  /** Notices per second each sender's bucket refills with; 0 turns the limit off. Default 10. */
  perSecond: number;
  /** Notices a sender may raise at once. Default 20. */
  burst: number;
  /** Senders whose buckets are remembered (idle ones are forgotten first). Default 10,000. */
  maxSenders: number;
}

export const DEFAULT_PUSH_LIMIT: PushLimit = { perSecond: 10, burst: 20, maxSenders: 10_000 };

/** Why a notice was not raised. */
export type GatedReason = 'no_known_device' | 'rate_limited';

export interface PushGateDeps {
  store: MessageStore;
  presence: PresenceStore;
  /** Where the notices that pass go. */
  pushHook: PushHook;
  clock: Clock;
  logger: Logger;
  metrics: ServerMetrics;
}

/** A notice before the gate has picked its devices. */
export type PushCandidate = Omit<PushNotice, 'offlineDevices'>;

export class PushGate implements PushHook {
  private readonly senders: SenderBuckets;

  constructor(
    private readonly deps: PushGateDeps,
    limit: Partial<PushLimit> = {},
  ) {
    const { perSecond, burst, maxSenders } = { ...DEFAULT_PUSH_LIMIT, ...limit };
    if (!(perSecond >= 0) || !(burst >= 1) || !Number.isInteger(maxSenders) || maxSenders < 1) {
      throw new Error('pushLimit: perSecond must be >= 0, burst >= 1 and maxSenders a positive integer');
    }
    this.senders = new SenderBuckets(perSecond, burst, maxSenders);
  }

  /**
   * The gate as the handlers' PushHook (CALLING, SPEC §6 F5): here `offlineDevices` names the
   * devices the notice is meant for, [] for any device of `to`. The notice that goes on carries
   * those of them that are known and offline, or is not raised. Returns at once; never throws.
   */
  notify(request: PushNotice): void {
    const meant = request.offlineDevices;
    void this.offer(request, (device) => meant.length === 0 || meant.includes(device));
  }

  /**
   * Raises `candidate` for the known, offline devices of `candidate.to` that `wanted` accepts,
   * unless there are none or the sender is over its limit. Resolves to whether the notice was
   * raised; never rejects (a push is a wake-up, not part of a send).
   */
  async offer(candidate: PushCandidate, wanted: (device: DeviceId) => boolean): Promise<boolean> {
    try {
      const [known, online] = await Promise.all([this.deps.store.knownDevices(candidate.to), this.deps.presence.onlineDevices(candidate.to)]);
      if (known.length === 0) return this.refuse('no_known_device', candidate);
      const onlineSet = new Set(online);
      const offline = known.filter((device) => !onlineSet.has(device) && wanted(device));
      // Every wanted device online (or none wanted): nothing to wake, and nothing refused.
      if (offline.length === 0) return false;
      // Only a notice that would go out takes a token, so messages to online users cost none.
      if (!this.senders.take(candidate.from, this.deps.clock.now())) return this.refuse('rate_limited', candidate);
      this.deps.pushHook.notify({ ...candidate, offlineDevices: offline });
      return true;
    } catch (err) {
      this.deps.logger.warn({ err }, 'push notice could not be prepared');
      return false;
    }
  }

  private refuse(reason: GatedReason, candidate: PushCandidate): false {
    this.deps.metrics.pushGated.labels(reason).inc();
    // Debug only: a flood must not flood the log. The sender is the actor; the recipient stays out.
    this.deps.logger.debug({ reason, kind: candidate.kind, from: candidate.from }, 'push notice not raised');
    return false;
  }
}
