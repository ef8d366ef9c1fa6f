/** ClientStorage in a browser's IndexedDB: one database per name, the state under one key, written in one transaction. */
import type { ClientState, ClientStorage } from './storage.js';

const STORE = 'state';
const KEY = 'state';

export class IndexedDbStorage implements ClientStorage {
  private db: Promise<IDBDatabase> | undefined;

  /** @param name database name; use one per (user, device), e.g. `bimip:alice@example.com:laptop`. */
  constructor(private readonly name: string) {}

  async load(): Promise<ClientState | undefined> {
    const db = await this.open();
    return request<ClientState | undefined>(db.transaction(STORE, 'readonly').objectStore(STORE).get(KEY));
  }

  async save(state: ClientState): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    tx.objectStore(STORE).put(state, KEY);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const opening = indexedDB.open(this.name, 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => reject(opening.error);
    });
    // A failed open (quota, a private window's restrictions, a blocked upgrade) is tried again next time.
    this.db.catch(() => {
      this.db = undefined;
    });
    return this.db;
  }
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error);
  });
}
