/**
 * Route 15 — SPEC §6 F2 Sync REQUEST: replay stored entries after `after_offset` (the device's own
 * included, entries targeted at other devices excluded) without moving the cursor, then a RESPONSE.
 */
import { MAX_SYNC_LIMIT, Route, SyncType, checkSyncRequest, type Sync } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { ROUTE_OF_KIND, encodeEntryFrame } from '../entry-frames.js';
import type { DeviceSession } from '../session.js';

const DEFAULT_SYNC_LIMIT = 100;

export async function handleSync(session: DeviceSession, sync: Sync, ctx: ServerContext): Promise<void> {
  const problem = checkSyncRequest(sync, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.Sync, problem.message, sync.id);
  const limit = Math.min(sync.limit === 0 ? DEFAULT_SYNC_LIMIT : sync.limit, MAX_SYNC_LIMIT);
  const info = await ctx.store.queueInfo(session.eid);
  let after = sync.afterOffset;
  let sent = 0;
  while (sent < limit && after < info.head) {
    const entries = await ctx.store.readEntries(session.eid, after, limit - sent);
    if (entries.length === 0) break;
    for (const entry of entries) {
      after = entry.offset;
      // Replay shows the device its own entries too; only other devices' targeted ones stay hidden.
      if (entry.targetDevice !== '' && entry.targetDevice !== session.deviceId) continue;
      session.sendEncoded(encodeEntryFrame(entry), ROUTE_OF_KIND[entry.kind]);
      sent++;
    }
  }
  session.send('sync', {
    id: sync.id,
    type: SyncType.RESPONSE,
    headOffset: info.head,
    cursor: session.cursor,
    firstOffset: info.first,
    epoch: info.epoch,
    timestamp: ctx.clock.now(),
  });
}
