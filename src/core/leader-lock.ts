/**
 * Leadership for work that must run once across the cluster (SPEC §11 Background work: retention,
 * the push outbox, token housekeeping), one lock per `name`.
 *
 * Contract (test/contract/leader-lock.contract.ts checks it, with two instances):
 * - At most one instance holds a given lock at a time, cluster-wide.
 * - The holder keeps it until `close()`, or until its connection to the lock's backend dies; the
 *   lock is then free and another instance's next `check()` takes it.
 * - `isLeader` is this instance's view as of its last check (engines re-check periodically). It
 *   can lag a lost lock by up to one check interval, so work done as leader must tolerate a brief
 *   overlap with the next leader: bounded batches, each in its own transaction, safe to repeat.
 * - `check()` never rejects: when the backend is unreachable the instance is simply not the leader.
 */
export interface LeaderLock {
  /** Whether this instance held the lock at its last check. */
  readonly isLeader: boolean;
  /** Takes the lock if free, or confirms this instance still holds it; resolves with `isLeader`. */
  check(): Promise<boolean>;
  /** Releases the lock if held and stops checking; `isLeader` is false from then on. */
  close(): Promise<void>;
}
