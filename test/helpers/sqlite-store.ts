/** A real SQLite message store in a temp dir, and messages from a to b, for store-level tests. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NewMessage } from '../../src/core/types.js';
import { pb } from '../../src/protocol/index.js';
import { SqliteMessageStore, type SqliteMessageStoreOptions } from '../../src/store/sqlite/sqlite-message-store.js';
import { tempDir } from './harness.js';

export const SENDER = 'a@example.com';
export const RECIPIENT = 'b@example.com';

/** Opens a store at `<temp dir>/bimip.sqlite`; `cleanups` gets its close and the dir's removal. */
export async function openTempStore(
  cleanups: Array<() => Promise<void> | void>,
  options: Omit<SqliteMessageStoreOptions, 'path'> = {},
): Promise<{ store: SqliteMessageStore; path: string }> {
  const dataDir = tempDir();
  const path = join(dataDir, 'bimip.sqlite');
  const store = await SqliteMessageStore.open({ path, ...options });
  cleanups.push(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { store, path };
}

/** A message from a's phone to b with client id `id` and a payload of `payloadBytes`. */
export function messageToB(id: string, payloadBytes = 10): NewMessage {
  return {
    senderEid: SENDER,
    senderDevice: 'phone',
    clientId: id,
    recipientEid: RECIPIENT,
    recipientDevice: '',
    encodeBody: () => pb.Message.encode({ id, payload: new Uint8Array(payloadBytes) }).finish(),
  };
}

/** Client ids of the messages in b's queue, in offset order. */
export async function storedIds(store: SqliteMessageStore): Promise<string[]> {
  return (await store.readEntries(RECIPIENT, 0, 100_000)).map((entry) => pb.Message.decode(entry.body).id);
}
