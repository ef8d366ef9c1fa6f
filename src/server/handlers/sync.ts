/**
 * Route 15 — SPEC §6 F2 Sync REQUEST: replay stored entries after `after_offset` (the device's own
 * included, entries targeted at other devices excluded) without moving the cursor, then a RESPONSE.
 *
 * Flow control applies to replays as to every push (issue #7 item 2): one replay runs at a time per
 * session, writes wait while the socket's send buffer is over its limit, entries are read in small
 * batches, and one RESPONSE covers at most `replayBytes` of entries. The RESPONSE's `after_offset`
 * says how far the replay got, so a client asks again from there while it is below `head_offset`.
 */
import { MAX_SYNC_LIMIT, Route, SyncType, checkSyncRequest, type Sync } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { ROUTE_OF_KIND, encodeEntryFrame } from '../entry-frames.js';
import type { DeviceSession } from '../session.js';

const DEFAULT_SYNC_LIMIT = 100;
/** Entries per store read during a replay: a batch of large messages stays a few MiB at most. */
const REPLAY_READ_BATCH = 64;

export function handleSync(session: DeviceSession, sync: Sync, ctx: ServerContext): Promise<void> {
  const problem = checkSyncRequest(sync, ctx.limits);
  if (problem) {
    session.sendError(problem.code, Route.Sync, problem.message, sync.id);
    return Promise.resolve();
  }
  return session.serialReplay(() => replay(session, sync, ctx));
}

async function replay(session: DeviceSession, sync: Sync, ctx: ServerContext): Promise<void> {
  const { sendBufferBytes, replayBytes } = ctx.delivery;
  const limit = Math.min(sync.limit === 0 ? DEFAULT_SYNC_LIMIT : sync.limit, MAX_SYNC_LIMIT);
  const info = await ctx.store.queueInfo(session.eid);
  let after = sync.afterOffset;
  let sent = 0;
  let bytes = 0;
  replaying: while (sent < limit && bytes < replayBytes && after < info.head && session.transport.isOpen) {
    const entries = await ctx.store.readEntries(session.eid, after, Math.min(limit - sent, REPLAY_READ_BATCH));
    if (entries.length === 0) break;
    for (const entry of entries) {
      if (sent >= limit || bytes >= replayBytes) break replaying;
      if (session.transport.bufferedBytes > sendBufferBytes) {
        await session.transport.whenBufferedBelow(sendBufferBytes / 2);
        if (!session.transport.isOpen) return;
      }
      after = entry.offset;
      // Replay shows the device its own entries too; only other devices' targeted ones stay hidden.
      if (entry.targetDevice !== '' && entry.targetDevice !== session.deviceId) continue;
      const frame = encodeEntryFrame(entry);
      session.sendEncoded(frame, ROUTE_OF_KIND[entry.kind]);
      sent++;
      bytes += frame.length;
    }
  }
  session.send('sync', {
    id: sync.id,
    type: SyncType.RESPONSE,
    afterOffset: after,
    headOffset: info.head,
    cursor: session.cursor,
    firstOffset: info.first,
    epoch: info.epoch,
    timestamp: ctx.clock.now(),
  });
}
