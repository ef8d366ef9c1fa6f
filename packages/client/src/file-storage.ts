/**
 * ClientStorage in a JSON file (Node): written to a temporary file, fsynced, renamed over the old
 * one and the directory fsynced, so a crash or power loss leaves either the old state or the new,
 * never half of one. `node:fs` is
 * imported on first use, so browser bundles that never use this class do not need it.
 */
import type { ClientState, ClientStorage } from './storage.js';

export class FileStorage implements ClientStorage {
  /** @param path the state file, e.g. `./alice-laptop.bimip.json` (one per user and device). */
  constructor(private readonly path: string) {}

  async load(): Promise<ClientState | undefined> {
    const fs = await import('node:fs/promises');
    try {
      return JSON.parse(await fs.readFile(this.path, 'utf8')) as ClientState;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(state: ClientState): Promise<void> {
    const fs = await import('node:fs/promises');
    const { dirname } = await import('node:path');
    // A name of its own per save: two clients (or processes) sharing a path never write one temp file.
    const temporary = `${this.path}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.tmp`;
    const file = await fs.open(temporary, 'w', 0o600);
    try {
      await file.writeFile(JSON.stringify(state));
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await fs.rename(temporary, this.path);
    } catch (err) {
      await fs.rm(temporary, { force: true });
      throw err;
    }
    // The rename itself must survive a power loss: fsync the directory that holds the entry.
    const directory = await fs.open(dirname(this.path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
