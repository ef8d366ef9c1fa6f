/**
 * SPEC §11: revocation and logout close the affected connections on every node within 1 s. The bus
 * carries the fast path (`revoked` messages) but may lose a message; this poll of the shared token
 * store's RevocationFeed is the backstop: every `intervalMs` the revocations other nodes committed
 * are learned, and the node's sweep closes the connections they refuse.
 */
import type { Logger } from '../core/logger.js';
import type { RevocationFeed } from '../core/revocation-feed.js';
import type { RevocationList } from './revocation-list.js';

export class RevocationPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private failing = false;

  private constructor(
    private readonly feed: RevocationFeed,
    private readonly revocations: RevocationList,
    private readonly logger: Logger,
    private position: number,
  ) {}

  /**
   * Takes the feed's position; call it BEFORE `RevocationList.load`, so nothing committed between
   * the two is missed (a revocation seen twice is applied idempotently).
   */
  static async prepare(feed: RevocationFeed, revocations: RevocationList, logger: Logger): Promise<RevocationPoller> {
    return new RevocationPoller(feed, revocations, logger, await feed.revocationPosition());
  }

  start(intervalMs = 250): void {
    this.timer ??= setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One poll; never rejects (a store outage is logged once until it recovers). */
  async poll(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    try {
      const { revocations, position } = await this.feed.revocationsSince(this.position);
      for (const revocation of revocations) this.revocations.remember(revocation);
      this.position = position;
      if (this.failing) this.logger.info({}, 'revocation poll recovered');
      this.failing = false;
      return revocations.length;
    } catch (err) {
      if (!this.failing) this.logger.warn({ err }, "revocation poll failed; other nodes' revocations wait for it");
      this.failing = true;
      return 0;
    } finally {
      this.polling = false;
    }
  }
}
