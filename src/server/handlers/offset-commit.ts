/** Route 14 — SPEC §6 F3: move the device's cursor forward. */
import { checkOffsetCommit, Route, type OffsetCommit } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { CommitAboveHeadError, type DeviceSession } from '../session.js';

export async function handleOffsetCommit(session: DeviceSession, commit: OffsetCommit, _ctx: ServerContext): Promise<void> {
  const problem = checkOffsetCommit(commit);
  if (problem) return session.sendError(problem.code, Route.OffsetCommit, problem.message);
  try {
    await session.commit(commit.userOffset);
  } catch (err) {
    if (err instanceof CommitAboveHeadError) return session.sendError(err.code, Route.OffsetCommit, err.message);
    throw err;
  }
}
