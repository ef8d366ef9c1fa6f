/**
 * Route 12 — receipts (SPEC §6 F4: durable, status 2–5) and transient signals (F5: status 6–12,
 * never stored). A blocked sender's signals are dropped.
 */
import { Code, Route, Status, checkSignal, encodeFrame, pb, type Signal } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceSession } from '../session.js';
import { identityOf, isSpoofed } from '../sender.js';

export async function handleSignal(session: DeviceSession, signal: Signal, ctx: ServerContext): Promise<void> {
  const problem = checkSignal(signal, ctx.limits);
  if (problem) return session.sendError(problem.code, Route.Signal, problem.message, signal.id);
  if (isSpoofed(session.sender, signal.from)) {
    return session.sendError(Code.Forbidden, Route.Signal, 'from does not match the authenticated identity', signal.id);
  }
  const to = signal.to!;
  if (await ctx.contacts.isBlocked(to.eid!, session.eid)) return; // SPEC §6 F7: dropped
  if (signal.status <= Status.PLAYED) return storeReceipt(session, signal, ctx);
  await relayTransient(session, signal, ctx);
}

async function storeReceipt(session: DeviceSession, signal: Signal, ctx: ServerContext): Promise<void> {
  const toEid = signal.to!.eid!;
  const body = pb.Signal.encode({
    id: signal.id,
    signalId: signal.signalId,
    from: identityOf(session.sender),
    to: { eid: toEid },
    status: signal.status,
    timestamp: signal.timestamp || ctx.clock.now(),
  }).finish();
  const outcome = await ctx.store.appendReceipt({
    messageSignalId: signal.signalId,
    status: signal.status,
    senderEid: session.eid,
    senderDevice: session.deviceId,
    toEid,
    body,
  });
  switch (outcome.result) {
    case 'stored':
      return ctx.publishEntries(outcome.entries);
    case 'not-found':
      return session.sendError(Code.NotFound, Route.Signal, 'no message with this signal_id', signal.id);
    case 'forbidden':
      return session.sendError(Code.Forbidden, Route.Signal, 'only the recipient of a message can send its receipts, to its sender', signal.id);
    default:
      // Already stored for this (message, status), or DELIVERED after READ: dropped (SPEC §6 F4).
      return;
  }
}

async function relayTransient(session: DeviceSession, signal: Signal, ctx: ServerContext): Promise<void> {
  const to = signal.to!;
  const targetDevice = to.connectionResourceId ?? '';
  const timestamp = signal.timestamp || ctx.clock.now();
  const frame = encodeFrame('signal', {
    id: signal.id,
    from: identityOf(session.sender),
    to: { eid: to.eid, connectionResourceId: targetDevice },
    status: signal.status,
    timestamp,
  });
  ctx.router.toUser(to.eid!, frame, Route.Signal, { device: targetDevice, transient: true });
  if (signal.status !== Status.CALLING) return;
  const online = await ctx.presence.onlineDevices(to.eid!);
  const reached = online.some((device) => targetDevice === '' || device === targetDevice);
  if (!reached) {
    // SPEC §6 F5/F9: a call to a user with no online device wakes their phones through the push hook.
    // ctx.pushHook is the push gate (server/push-gate.ts): it keeps, of the devices named here (none
    // = any), those that are known and offline, raises nothing for a user who never connected, and
    // applies the per-sender limit.
    ctx.pushHook.notify({
      kind: 'calling',
      to: to.eid!,
      offlineDevices: targetDevice ? [targetDevice] : [],
      from: session.eid,
      signalId: '',
      messageId: signal.id,
      type: 0,
      status: signal.status,
      timestamp,
    });
  }
}
