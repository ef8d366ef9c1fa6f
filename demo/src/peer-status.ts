/** The header widgets: connection state badge, the peer's presence dot, the typing line, the contact relation. */
import { AwarenessStatus, type Awareness, type ConnectionState, Relation } from '@bimip/client';
import { formatTime } from './chat-view.js';

/** `#state`: data-state is connecting / connected / disconnected / closed. */
export function showConnectionState(badge: HTMLElement, state: ConnectionState): void {
  badge.dataset['state'] = state.state;
  switch (state.state) {
    case 'connecting':
      badge.textContent = state.attempt > 1 ? `connecting (attempt ${state.attempt})` : 'connecting';
      break;
    case 'connected':
      badge.textContent = 'connected';
      break;
    case 'disconnected':
      badge.textContent = `disconnected — retry in ${(state.retryInMs / 1000).toFixed(1)} s`;
      break;
    case 'closed':
      badge.textContent = `closed (${state.code}${state.reason ? `: ${state.reason}` : ''})`;
      break;
  }
  badge.title = state.state === 'disconnected' || state.state === 'closed' ? `close code ${state.code} ${state.reason}` : '';
}

const STATUS_NAMES: Record<number, string> = {
  [AwarenessStatus.ONLINE]: 'online',
  [AwarenessStatus.OFFLINE]: 'offline',
  [AwarenessStatus.AWAY]: 'away',
  [AwarenessStatus.BUSY]: 'busy',
  [AwarenessStatus.DND]: 'do not disturb',
};

/** `#presence`: data-status online / offline / away / busy / dnd / unknown, and the last-seen time when known. */
export function showPresence(element: HTMLElement, awareness: Awareness | undefined): void {
  const text = element.querySelector<HTMLElement>('.text')!;
  if (!awareness) {
    element.dataset['status'] = 'unknown';
    text.textContent = 'presence not shared';
    element.removeAttribute('data-last-seen');
    return;
  }
  const name = STATUS_NAMES[awareness.status] ?? 'unknown';
  element.dataset['status'] = name === 'do not disturb' ? 'dnd' : name;
  // last_seen is 0 when the user is hidden (SPEC §6 F6): then just "offline".
  const lastSeen = awareness.lastSeen;
  if (lastSeen > 0) element.dataset['lastSeen'] = String(lastSeen);
  else element.removeAttribute('data-last-seen');
  text.textContent = awareness.status === AwarenessStatus.OFFLINE && lastSeen > 0 ? `offline · last seen ${formatTime(lastSeen)}` : name;
}

/** `#typing`: shown on TYPING / RECORDING from the peer, hidden on PAUSED / CANCELLED, a message, or after 3 s of silence. */
export class TypingIndicator {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly element: HTMLElement,
    private readonly peer: string,
    private readonly silenceMs = 3000,
  ) {}

  show(what: 'typing' | 'recording'): void {
    this.element.textContent = `${this.peer} is ${what}…`;
    this.element.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), this.silenceMs);
  }

  hide(): void {
    clearTimeout(this.timer);
    this.element.hidden = true;
  }
}

export type RelationName = 'none' | 'subscribed' | 'pending-out' | 'pending-in' | 'blocked';

export function relationName(relation: number | undefined): RelationName {
  switch (relation) {
    case Relation.SUBSCRIBED:
      return 'subscribed';
    case Relation.PENDING_OUT:
      return 'pending-out';
    case Relation.PENDING_IN:
      return 'pending-in';
    case Relation.BLOCKED:
      return 'blocked';
    default:
      return 'none';
  }
}

const RELATION_TEXT: Record<RelationName, (peer: string) => string> = {
  none: (peer) => `not sharing presence with ${peer}`,
  subscribed: (peer) => `sharing presence with ${peer}`,
  'pending-out': (peer) => `waiting for ${peer} to approve`,
  'pending-in': (peer) => `${peer} asks to share presence`,
  blocked: (peer) => `you blocked ${peer}`,
};

/** `#contact` (data-relation) and which of #subscribe / #approve / #block / #unblock are offered. */
export function showRelation(
  elements: { contact: HTMLElement; subscribe: HTMLElement; approve: HTMLElement; block: HTMLElement; unblock: HTMLElement },
  relation: RelationName,
  peer: string,
): void {
  elements.contact.dataset['relation'] = relation;
  elements.contact.textContent = RELATION_TEXT[relation](peer);
  elements.subscribe.hidden = relation !== 'none';
  elements.approve.hidden = relation !== 'pending-in';
  elements.block.hidden = relation === 'blocked';
  elements.unblock.hidden = relation !== 'blocked';
}
