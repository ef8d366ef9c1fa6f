/**
 * The BIMIP web chat demo: one page per (user, device), talking to the server that served it with
 * the SDK's resilient client. `?me=alice&peer=bob&device=web1` says who; docs/demo.md says what it
 * shows. Element ids are stable: the end-to-end test (test/e2e/demo.e2e.test.ts) drives them.
 */
import {
  BimipClient,
  type ClientStorage,
  IndexedDbStorage,
  MemoryStorage,
  type Message,
  type QueueEntry,
  ReceiptStatus,
  type ResetEvent,
  SendRejectedError,
  type Sync,
  TransientStatus,
  VisibilityType,
  ContactAction,
  randomId,
} from '@bimip/client';
import { ChatView, encodeText } from './chat-view.js';
import { bimipUrl, fetchToken, peerPageUrl, readParams } from './params.js';
import { type RelationName, relationName, showConnectionState, showPresence, showRelation, TypingIndicator } from './peer-status.js';

/** How many of the latest queue entries a page shows when it opens (and after a reset). */
const HISTORY = 200;
/** While the user types, TYPING goes out at most this often; PAUSED after this long without a keystroke. */
const TYPING_EVERY_MS = 2000;
const TYPING_PAUSE_MS = 3000;

const params = readParams(location.search);
const { me, peer, device } = params;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

const ui = {
  state: element('state'),
  me: element('me'),
  peer: element('peer-name'),
  peerLink: element<HTMLAnchorElement>('peer-link'),
  presence: element('presence'),
  contact: element('contact'),
  subscribe: element<HTMLButtonElement>('subscribe'),
  approve: element<HTMLButtonElement>('approve'),
  block: element<HTMLButtonElement>('block'),
  unblock: element<HTMLButtonElement>('unblock'),
  visibility: element<HTMLButtonElement>('visibility-toggle'),
  reconnect: element<HTMLButtonElement>('reconnect'),
  notice: element('notice'),
  messages: element<HTMLUListElement>('messages'),
  typing: element('typing'),
  composer: element<HTMLFormElement>('composer'),
  compose: element<HTMLInputElement>('compose'),
};

const view = new ChatView(ui.messages, me);
const typing = new TypingIndicator(ui.typing, peer);

/** IndexedDB keeps the outbox and the processed offset across reloads; without it (some private modes) the page still works, forgetting on reload. */
const storage: ClientStorage = typeof indexedDB === 'undefined' ? new MemoryStorage() : new IndexedDbStorage(`bimip-demo:${me}:${device}`);

const client = new BimipClient({
  url: bimipUrl(location),
  getToken: () => fetchToken(me, device),
  storage,
  // A demo wants to come back quickly after `bimip demo` restarts; the default cap is 20 s.
  reconnect: { maxDelayMs: 5000 },
});

declare global {
  interface Window {
    /** For poking at the client from the devtools console. */
    bimipDemo?: { client: BimipClient; params: typeof params };
  }
}
window.bimipDemo = { client, params };

function notice(text: string, kind: 'info' | 'error' = 'info'): void {
  ui.notice.textContent = text;
  ui.notice.dataset['kind'] = kind;
  ui.notice.hidden = false;
}

// ---- connection ----

let historyLoaded = false;

client.on('state', (state) => {
  showConnectionState(ui.state, state);
  ui.reconnect.hidden = state.state !== 'disconnected';
  if (state.state === 'closed') {
    notice(
      state.code === 4009
        ? `This device (${device}) was opened in another tab or window: this one is closed.`
        : `The client stopped (${state.code} ${state.reason}).`,
      'error',
    );
  }
});
client.on('caughtUp', (marker) => void onCaughtUp(marker));
client.on('reset', (event) => void onReset(event));
client.on('sent', (ack) => view.markSent(ack.id, ack.signalId, ack.userOffset));
client.on('sendFailed', (error) => view.markFailed(error.id, `Ack ${error.code}${error.details ? `: ${error.details}` : ''}`));
client.on('error', (error) => console.warn('BIMIP error frame', error));
window.addEventListener('online', () => client.reconnectNow());
ui.reconnect.addEventListener('click', () => client.reconnectNow());

/** Each connection: the first one loads recent history; every one refreshes the contact and presence (the server's state may have moved on). */
async function onCaughtUp(marker: Sync): Promise<void> {
  if (!historyLoaded) {
    historyLoaded = true;
    await loadHistory(marker.headOffset).catch((err: unknown) => notice(`could not load history: ${String(err)}`, 'error'));
  }
  await refreshContact();
}

/** The queue was reset or has a gap: the offsets this page holds mean nothing; reload from the server. */
async function onReset(event: ResetEvent): Promise<void> {
  historyLoaded = true;
  notice(
    event.reason === 'epoch'
      ? 'The server reset your message queue (new epoch): the conversation was reloaded from the server.'
      : `Entries ${event.cursor + 1}–${event.firstOffset - 1} were removed (retention) before this device read them: showing what is left.`,
  );
  view.clear();
  await loadHistory(event.marker.headOffset).catch((err: unknown) => notice(`could not reload: ${String(err)}`, 'error'));
}

/** Replays the latest entries (Sync REQUEST; the cursor does not move) and shows them above live ones. */
async function loadHistory(head: number): Promise<void> {
  if (head <= 0) return;
  const { entries } = await client.sync(Math.max(0, head - HISTORY), HISTORY);
  const readByMe = new Set(
    entries.flatMap((e) => (e.kind === 'signal' && e.signal.status === ReceiptStatus.READ && e.signal.from?.eid === me ? [e.signal.id] : [])),
  );
  for (const entry of entries) {
    if (entry.kind === 'message') {
      const isNew = view.addFromQueue(entry.message, entry.offset, false, 'history');
      if (isNew && entry.message.from?.eid !== me && !readByMe.has(entry.message.id)) unread.push(entry.message);
    } else if (entry.kind === 'signal') {
      view.applyReceipt(entry.signal);
    }
  }
  markReadIfVisible();
}

// ---- the queue: messages, receipts, contact events ----

/** Incoming messages not yet answered with READ (sent once the page is visible). */
const unread: Message[] = [];

function markReadIfVisible(): void {
  if (document.visibilityState !== 'visible') return;
  for (const message of unread.splice(0)) {
    if (view.isIncomingRead(message.id)) continue;
    view.markIncomingRead(message.id);
    client.sendReceipt(message, ReceiptStatus.READ).catch((err: unknown) => console.warn('READ receipt not queued', err));
  }
}
document.addEventListener('visibilitychange', markReadIfVisible);
window.addEventListener('focus', markReadIfVisible);

async function handleEntry(entry: QueueEntry): Promise<void> {
  switch (entry.kind) {
    case 'message': {
      const message = entry.message;
      view.addFromQueue(message, entry.offset, true);
      if (message.from?.eid === me) return; // sent from another device of mine
      typing.hide();
      // Into the outbox (persisted) before the entry is committed: a crash now still sends it.
      await client.sendReceipt(message, ReceiptStatus.DELIVERED);
      unread.push(message);
      markReadIfVisible();
      return;
    }
    case 'signal':
      view.applyReceipt(entry.signal);
      return;
    case 'contact': {
      const { action, from } = entry.contact;
      if (from?.eid === peer && action === ContactAction.SUBSCRIBE) notice(`${peer} asks to share presence with you: press Approve.`);
      void refreshContact();
      return;
    }
  }
}

async function consumeEntries(): Promise<void> {
  for await (const entry of client.entries) {
    try {
      await handleEntry(entry);
    } catch (err) {
      console.error('entry handling failed', entry, err);
    }
    // Processed: never handed to this page again, across reconnects and reloads (SPEC §7.4).
    await client.commit(entry.offset);
  }
}

// ---- contacts, presence, typing, visibility ----

let relation: RelationName = 'none';
/** Counts presence updates from the stream: a query answer older than one of them is not shown. */
let presenceVersion = 0;
let contactRefresh = 0;

async function refreshContact(): Promise<void> {
  const mine = ++contactRefresh;
  try {
    const contacts = await client.listContacts();
    if (mine !== contactRefresh) return;
    relation = relationName(contacts.find((contact) => contact.eid === peer)?.relation);
    showRelation(ui, relation, peer);
    if (relation === 'subscribed') await refreshPresence();
    else showPresence(ui.presence, undefined);
  } catch (err) {
    console.warn('contact refresh failed', err);
  }
}

/** The connect-time snapshot is not relied on: ask for the peer's awareness after each (re)connect and approval. */
async function refreshPresence(): Promise<void> {
  const before = presenceVersion;
  try {
    const awareness = await client.queryAwareness(peer);
    if (before === presenceVersion) showPresence(ui.presence, awareness);
  } catch (err) {
    console.warn('presence query failed', err);
  }
}

async function consumeAwareness(): Promise<void> {
  for await (const awareness of client.awareness) {
    if (awareness.from?.eid !== peer) continue;
    presenceVersion++;
    showPresence(ui.presence, awareness);
  }
}

async function consumeSignals(): Promise<void> {
  for await (const signal of client.signals) {
    if (signal.from?.eid !== peer) continue;
    if (signal.status === TransientStatus.TYPING) typing.show('typing');
    else if (signal.status === TransientStatus.RECORDING) typing.show('recording');
    else if (signal.status === TransientStatus.PAUSED || signal.status === TransientStatus.CANCELLED) typing.hide();
  }
}

const VISIBLE_KEY = `bimip-demo:visible:${me}`;

function showVisibility(visible: boolean): void {
  ui.visibility.dataset['visible'] = String(visible);
  ui.visibility.textContent = visible ? 'Hide me (appear offline)' : 'Show me again';
  try {
    localStorage.setItem(VISIBLE_KEY, String(visible));
  } catch {
    // storage refused: only the label is affected
  }
}

async function consumeVisibility(): Promise<void> {
  for await (const echo of client.visibility) {
    if (echo.type === VisibilityType.ENABLED || echo.type === VisibilityType.DISABLED) showVisibility(echo.type === VisibilityType.ENABLED);
  }
}

let typingSentAt = 0;
let pauseTimer: ReturnType<typeof setTimeout> | undefined;

function stopTyping(): void {
  clearTimeout(pauseTimer);
  if (typingSentAt === 0) return;
  typingSentAt = 0;
  client.sendSignal(peer, TransientStatus.PAUSED);
}

ui.compose.addEventListener('input', () => {
  if (!ui.compose.value) return stopTyping();
  const now = Date.now();
  // Transient (SPEC §6 F5): not queued while disconnected, so a failed write is simply retried on the next keystroke.
  if (now - typingSentAt > TYPING_EVERY_MS && client.sendSignal(peer, TransientStatus.TYPING) !== undefined) typingSentAt = now;
  clearTimeout(pauseTimer);
  pauseTimer = setTimeout(stopTyping, TYPING_PAUSE_MS);
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.compose.value.trim();
  if (!text) return;
  ui.compose.value = '';
  stopTyping();
  void sendText(text);
});

/** Shown at once as pending; the SDK keeps it in its persistent outbox until the server acks it, across reconnects. */
async function sendText(text: string): Promise<void> {
  const id = randomId();
  const now = Date.now();
  view.addOutgoing(id, text, now);
  try {
    const ack = await client.send({ id, to: peer, payload: encodeText(text), timestamp: now });
    view.markSent(id, ack.signalId, ack.userOffset);
  } catch (err) {
    view.markFailed(id, err instanceof SendRejectedError ? `Ack ${err.code}${err.details ? `: ${err.details}` : ''}` : String(err));
    // 403: most likely blocked. A block is not announced to the blocked user (F7), and it ended the subscription.
    if (err instanceof SendRejectedError && err.code === 403) void refreshContact();
  }
}

/** Runs a button's action with the button disabled; failures go to the notice line. */
function onClick(button: HTMLButtonElement, action: () => Promise<unknown>): void {
  button.addEventListener('click', () => {
    button.disabled = true;
    action()
      .catch((err: unknown) => notice(`${button.textContent?.trim()}: ${err instanceof Error ? err.message : String(err)}`, 'error'))
      .finally(() => {
        button.disabled = false;
      });
  });
}

onClick(ui.subscribe, async () => {
  await client.subscribe(peer);
  await refreshContact();
});
onClick(ui.approve, async () => {
  await client.approve(peer);
  ui.notice.hidden = true;
  await refreshContact();
});
onClick(ui.block, async () => {
  await client.block(peer);
  await refreshContact();
});
onClick(ui.unblock, async () => {
  await client.unblock(peer);
  await refreshContact();
});
onClick(ui.visibility, async () => {
  const echo = await client.setVisibility(ui.visibility.dataset['visible'] === 'false');
  showVisibility(echo.type === VisibilityType.ENABLED);
});

// ---- start ----

async function main(): Promise<void> {
  document.title = `${me} ↔ ${peer} · BIMIP demo`;
  ui.me.textContent = me;
  ui.peer.textContent = peer;
  ui.peerLink.href = peerPageUrl(params);
  ui.peerLink.textContent = `open ${peer}'s window`;
  showRelation(ui, relation, peer);
  showPresence(ui.presence, undefined);
  showVisibility(localStorage.getItem(VISIBLE_KEY) !== 'false');
  await client.start();
  void consumeEntries();
  void consumeSignals();
  void consumeAwareness();
  void consumeVisibility();
}

main().catch((err: unknown) => notice(`could not start: ${err instanceof Error ? err.message : String(err)}`, 'error'));
