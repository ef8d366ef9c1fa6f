/** `bimip send` and `bimip listen`: the SDK from the command line, for a first message and for debugging. */
import { BimipClient, BimipConnection, type ConnectionState, FileStorage, type QueueEntry } from '../client/index.js';

export interface ClientFlags {
  url: string;
  token: string;
}

/** Sends one message and prints its Ack as JSON; exits non-zero unless the Ack is 200 or 409. */
export async function sendCommand(flags: ClientFlags & { to: string; text: string; id?: string }): Promise<number> {
  const client = await BimipConnection.connect({ url: flags.url, token: flags.token });
  try {
    const ack = await client.send({ to: flags.to, payload: flags.text, id: flags.id });
    process.stdout.write(
      `${JSON.stringify({ id: ack.id, code: ack.code, signal_id: ack.signalId, user_offset: ack.userOffset, details: ack.details || undefined })}\n`,
    );
    return ack.code === 200 || ack.code === 409 ? 0 : 1;
  } finally {
    await client.close();
  }
}

/**
 * Prints entries as JSON lines and commits each; stops after `count` entries when given. Survives
 * server restarts and network drops (the SDK reconnects; connection changes go to stderr), and
 * with `state` keeps its place in a file, so a restarted listener prints nothing twice. Exits 1
 * with the reason when the connection ends for good (token expired or revoked, replaced by
 * another connection of the device, kicked).
 */
export async function listenCommand(flags: ClientFlags & { count?: number; state?: string }): Promise<number> {
  const client = new BimipClient({ url: flags.url, token: flags.token, ...(flags.state ? { storage: new FileStorage(flags.state) } : {}) });
  client.on('state', (state) => process.stderr.write(`${describeState(state)}\n`));
  client.on('caughtUp', (marker) => process.stderr.write(`caught up: head ${marker.headOffset}, cursor ${marker.cursor}, first ${marker.firstOffset}\n`));
  client.on('reset', (reset) =>
    process.stderr.write(`queue ${reset.reason === 'epoch' ? `epoch changed to ${reset.epoch}` : `gap: entries before ${reset.firstOffset} are gone`}\n`),
  );
  await client.start();
  let received = 0;
  for await (const entry of client.entries) {
    process.stdout.write(`${JSON.stringify(describeEntry(entry))}\n`);
    await client.commit(entry.offset);
    if (flags.count !== undefined && ++received >= flags.count) {
      await client.close();
      return 0;
    }
  }
  // The stream ended: the client closed for good.
  const state = client.connectionState;
  if (state.state === 'closed') {
    process.stderr.write(
      `bimip listen: connection ended: ${state.code}${state.reason ? ` ${state.reason}` : ''}${state.error ? ` (${state.error.message})` : ''}\n`,
    );
  }
  return 1;
}

function describeState(state: ConnectionState): string {
  switch (state.state) {
    case 'connecting':
      return `connecting (attempt ${state.attempt})`;
    case 'connected':
      return 'connected';
    case 'disconnected':
      return `disconnected (${state.code}${state.reason ? ` ${state.reason}` : ''}); retrying in ${state.retryInMs} ms`;
    case 'closed':
      return `closed (${state.code}${state.reason ? ` ${state.reason}` : ''})`;
  }
}

/** One JSON line per entry; receipts and contact events are queue entries too (SPEC §5). */
function describeEntry(entry: QueueEntry): Record<string, unknown> {
  switch (entry.kind) {
    case 'message': {
      const { message } = entry;
      return {
        user_offset: entry.offset,
        id: message.id,
        signal_id: message.signalId,
        from: message.from?.eid,
        text: new TextDecoder().decode(message.payload),
      };
    }
    case 'signal':
      return {
        user_offset: entry.offset,
        kind: 'receipt',
        id: entry.signal.id,
        signal_id: entry.signal.signalId,
        from: entry.signal.from?.eid,
        status: entry.signal.status,
      };
    case 'contact':
      return { user_offset: entry.offset, kind: 'contact', from: entry.contact.from?.eid, action: entry.contact.action };
  }
}
