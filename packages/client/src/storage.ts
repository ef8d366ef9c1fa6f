/**
 * What the client keeps across app restarts (issue #9): the outbox (messages and receipts not yet
 * confirmed by the server) and the last entry the app processed, with the queue's epoch. Without
 * it, a restarted app would lose unsent messages and be handed again the entries it committed
 * just before a crash (SPEC F3 lets the server re-send them; §7.4 promises the app each once).
 *
 * One storage holds one (user, device): give each account its own name or file.
 */
export interface ClientState {
  /** The queue epoch the offsets below belong to ('' until the first caught-up marker). */
  epoch: string;
  /** Highest user_offset the app committed (processed); entries ≤ it are never handed out again. */
  processed: number;
  /** Frames to (re)send on the next connection, oldest first. */
  outbox: OutboxRecord[];
}

/** One unconfirmed frame. `frame` is the encoded MessageScheme, base64. */
export interface OutboxRecord {
  /** 'message' waits for its Ack; 'receipt' is confirmed by the next PONG on the same connection. */
  kind: 'message' | 'receipt';
  /** The frame's id (a message's idempotency key; a receipt's message id). */
  id: string;
  frame: string;
}

/**
 * Storage contract: `load` returns what the last completed `save` stored (undefined when nothing
 * was ever saved); `save` replaces the whole state and resolves once it would survive the app
 * being killed. The client never runs two saves at once.
 */
export interface ClientStorage {
  load(): Promise<ClientState | undefined>;
  save(state: ClientState): Promise<void>;
}

export function emptyState(): ClientState {
  return { epoch: '', processed: 0, outbox: [] };
}

/** The default: kept for the life of the page or process only. */
export class MemoryStorage implements ClientStorage {
  private state: string | undefined;

  async load(): Promise<ClientState | undefined> {
    return this.state === undefined ? undefined : (JSON.parse(this.state) as ClientState);
  }

  async save(state: ClientState): Promise<void> {
    // A copy: the client goes on changing its own object.
    this.state = JSON.stringify(state);
  }
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
