/**
 * SPEC §6 F10 retention in the background: every `intervalMs` one run removes what is older than
 * the retention period, in small store batches (`MessageStore.pruneOlderThan`), yielding to the
 * event loop between them so sends interleave and no batch stalls them for long.
 */
import type { LeaderLock } from '../core/leader-lock.js';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore, PruneResult } from '../core/message-store.js';

export interface RetentionServiceOptions {
  store: MessageStore;
  clock: Clock;
  logger: Logger;
  /** How long entries are kept and how long a device may stay unseen before its cursor goes (ms). */
  retentionMs: number;
  /** Time between runs (default 60 s). */
  intervalMs?: number;
  /** Most entries (and, separately, cursors) one store batch removes (default 500). */
  batchSize?: number;
  /** Most batches in one run (default 200): a large backlog is spread over several runs. */
  maxBatchesPerRun?: number;
  /** In cluster mode: only the holder of this lock runs scheduled batches (SPEC §11 Background work). */
  leader?: LeaderLock;
  /** Where the bimip_retention_* metrics are registered (default: a registry of its own). */
  registry?: Registry;
}

/** What one run removed, summed over its batches. */
export interface RetentionRunResult extends PruneResult {
  batches: number;
}

export class RetentionService {
  private readonly retentionMs: number;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly maxBatchesPerRun: number;
  private readonly logger: Logger;
  private readonly metrics;
  private timer: { cancel(): void } | undefined;
  private running: Promise<RetentionRunResult> | undefined;
  private stopped = false;

  constructor(private readonly options: RetentionServiceOptions) {
    this.retentionMs = positive(options.retentionMs, 'retentionMs');
    this.intervalMs = positive(options.intervalMs ?? 60_000, 'intervalMs');
    this.batchSize = positiveInteger(options.batchSize ?? 500, 'batchSize');
    this.maxBatchesPerRun = positiveInteger(options.maxBatchesPerRun ?? 200, 'maxBatchesPerRun');
    this.logger = options.logger.child({ component: 'retention' });
    const registers = [options.registry ?? new Registry()];
    this.metrics = {
      entries: new Counter({ name: 'bimip_retention_pruned_entries_total', help: 'Queue entries removed by retention', registers }),
      messages: new Counter({ name: 'bimip_retention_pruned_messages_total', help: 'Message bodies removed by retention', registers }),
      cursors: new Counter({ name: 'bimip_retention_pruned_cursors_total', help: 'Cursors of long-unseen devices removed by retention', registers }),
      runs: new Counter({ name: 'bimip_retention_runs_total', help: 'Retention runs, by outcome', labelNames: ['outcome'] as const, registers }),
      lastRun: new Gauge({ name: 'bimip_retention_last_run_timestamp_seconds', help: 'When the last successful retention run finished', registers }),
    };
  }

  /** Schedules a run every `intervalMs` (the first one interval from now). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = this.options.clock.setInterval(() => void this.runScheduled(), this.intervalMs);
  }

  /** Cancels the schedule and waits for a run in progress to finish its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /**
   * Runs once now (or joins the run in progress): batches until one removes fewer than
   * `batchSize` entries and cursors, `maxBatchesPerRun` is reached, or the service is stopped.
   */
  runOnce(): Promise<RetentionRunResult> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async runScheduled(): Promise<void> {
    // SPEC §11: background work runs once across the cluster; a node that is not the leader skips.
    if (this.options.leader && !(await this.options.leader.check())) return;
    // A run still going when the next is due is simply joined, never doubled.
    try {
      await this.runOnce();
    } catch (err) {
      this.logger.error({ err }, 'retention run failed; the next run retries');
    }
  }

  private async run(): Promise<RetentionRunResult> {
    const startedAt = this.options.clock.now();
    const cutoff = startedAt - this.retentionMs;
    const total: RetentionRunResult = { entries: 0, messages: 0, cursors: 0, batches: 0 };
    try {
      while (total.batches < this.maxBatchesPerRun && !this.stopped) {
        const removed = await this.options.store.pruneOlderThan(cutoff, this.batchSize);
        total.batches++;
        total.entries += removed.entries;
        total.messages += removed.messages;
        total.cursors += removed.cursors;
        this.metrics.entries.inc(removed.entries);
        this.metrics.messages.inc(removed.messages);
        this.metrics.cursors.inc(removed.cursors);
        if (removed.entries < this.batchSize && removed.cursors < this.batchSize) break;
        // Let the sends that queued behind this batch go first.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.metrics.runs.labels('failed').inc();
      throw err;
    }
    this.metrics.runs.labels('ok').inc();
    this.metrics.lastRun.set(this.options.clock.now() / 1000);
    if (total.entries + total.messages + total.cursors > 0) {
      this.logger.info(
        { entries: total.entries, messages: total.messages, cursors: total.cursors, batches: total.batches, ms: this.options.clock.now() - startedAt },
        'retention removed old entries',
      );
    }
    return total;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
