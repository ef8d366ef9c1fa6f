/** `bimip send` and `bimip listen`: the SDK from the command line, for a first message and for debugging. */
import { BimipClient, type QueueEntry } from '../client/index.js';

export interface ClientFlags {
  url: string;
  token: string;
}

/** Sends one message and prints its Ack as JSON; exits non-zero unless the Ack is 200 or 409. */
export async function sendCommand(flags: ClientFlags & { to: string; text: string; id?: string }): Promise<number> {
  const client = await BimipClient.connect({ url: flags.url, token: flags.token });
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

/** Prints entries as JSON lines and commits each; stops after `count` entries when given. */
export async function listenCommand(flags: ClientFlags & { count?: number }): Promise<number> {
  const client = await BimipClient.connect({ url: flags.url, token: flags.token });
  void client.caughtUp.then((marker) => process.stderr.write(`caught up: head ${marker.headOffset}, cursor ${marker.cursor}, first ${marker.firstOffset}\n`));
  let received = 0;
  for await (const entry of client.entries) {
    process.stdout.write(`${JSON.stringify(describeEntry(entry))}\n`);
    client.commit(entry.offset);
    if (flags.count !== undefined && ++received >= flags.count) break;
  }
  await client.close();
  return 0;
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
