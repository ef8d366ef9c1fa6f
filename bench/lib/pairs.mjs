/**
 * Sender→receiver pairs over raw clients, with exact delivery accounting at the frame level:
 * each receiver checks every pushed Message's user_offset (duplicate = same offset pushed twice,
 * out of order = an offset below the highest seen that was not seen before, gap = an offset jump)
 * and each message id (stored twice = same client id delivered at two different offsets).
 */
import { RawClient } from './raw-client.mjs';
import { inBatches, token } from './util.mjs';

export const COMMIT_EVERY = 64;
export const COMMIT_INTERVAL_MS = 50;

export class Pair {
  constructor(index, maxMessages, tag) {
    this.index = index;
    this.tag = tag;
    this.senderEid = `${tag}-s${index}@bench`;
    this.receiverEid = `${tag}-r${index}@bench`;
    this.maxMessages = maxMessages;
    this.acked = new Uint8Array(maxMessages);
    this.delivered = new Uint8Array(maxMessages);
    this.deliveredAtOffset = new Uint32Array(maxMessages);
    this.seenOffset = new Uint8Array(maxMessages + 1024);
    this.sent = 0;
    this.ackedCount = 0;
    this.ackFailures = new Map();
    this.inFlight = 0;
    this.rawDeliveries = 0;
    this.distinctDelivered = 0;
    this.duplicateOffsets = 0;
    this.storedTwice = 0;
    this.outOfOrder = 0;
    this.gaps = 0;
    this.unknown = 0;
    this.lastOffset = 0;
    this.uncommitted = 0;
    this.committed = 0;
    this.sender = undefined;
    this.receiver = undefined;
    /** Hooks set by the scenario. */
    this.onAck = undefined;
    this.onDeliver = undefined;
  }

  idOf(seq) {
    return `${this.tag}${this.index}-${seq}`;
  }

  seqOf(id) {
    return Number(id.slice(id.indexOf('-') + 1));
  }

  async connectReceiver(url) {
    this.receiver = await RawClient.connect(url, await token(this.receiverEid), {
      onMessage: (message) => this.deliver(message),
    });
  }

  async connectSender(url) {
    this.sender = await RawClient.connect(url, await token(this.senderEid), {
      onAck: (ack) => this.ack(ack),
    });
  }

  send(seq, payload) {
    this.sent++;
    this.inFlight++;
    this.sender.sendMessage(this.idOf(seq), this.receiverEid, payload);
  }

  ack(ack) {
    this.inFlight--;
    const seq = this.seqOf(ack.id);
    if (ack.code === 200) {
      if (!this.acked[seq]) this.ackedCount++;
      this.acked[seq] = 1;
    } else {
      this.ackFailures.set(ack.code, (this.ackFailures.get(ack.code) ?? 0) + 1);
    }
    this.onAck?.(this, seq, ack);
  }

  deliver(message) {
    this.rawDeliveries++;
    const offset = message.userOffset;
    const seq = this.seqOf(message.id);
    if (!(seq >= 0 && seq < this.maxMessages) || offset >= this.seenOffset.length) {
      this.unknown++;
      return;
    }
    if (this.seenOffset[offset]) {
      this.duplicateOffsets++;
    } else {
      this.seenOffset[offset] = 1;
      if (offset < this.lastOffset) this.outOfOrder++;
      else if (offset > this.lastOffset + 1) this.gaps++;
      if (this.delivered[seq] && this.deliveredAtOffset[seq] !== offset) this.storedTwice++;
    }
    if (!this.delivered[seq]) {
      this.delivered[seq] = 1;
      this.deliveredAtOffset[seq] = offset;
      this.distinctDelivered++;
    }
    if (offset > this.lastOffset) this.lastOffset = offset;
    this.onDeliver?.(this, seq, message);
    if (++this.uncommitted >= COMMIT_EVERY) this.commit();
  }

  commit() {
    if (this.lastOffset > this.committed && this.receiver.isOpen) {
      this.receiver.commit(this.lastOffset);
      this.committed = this.lastOffset;
    }
    this.uncommitted = 0;
  }

  /** Acked ids never delivered. */
  lost() {
    let lost = 0;
    for (let seq = 0; seq < this.maxMessages; seq++) if (this.acked[seq] && !this.delivered[seq]) lost++;
    return lost;
  }
}

export async function connectPairs(url, pairs, senderUrl = url) {
  // Receivers first, each caught up (its marker arrived) before any sender connects.
  await inBatches(pairs, 25, (pair) => pair.connectReceiver(url));
  await inBatches(pairs, 25, (pair) => pair.connectSender(senderUrl));
}

/** Commits every COMMIT_INTERVAL_MS for receivers with uncommitted entries; returns a stop function. */
export function startCommitTimer(pairs) {
  const timer = setInterval(() => {
    for (const pair of pairs) if (pair.uncommitted > 0) pair.commit();
  }, COMMIT_INTERVAL_MS);
  return () => clearInterval(timer);
}

export async function closePairs(pairs) {
  await Promise.all(
    pairs.flatMap((pair) => [pair.sender, pair.receiver].filter(Boolean).map((c) => Promise.race([c.close(), new Promise((r) => setTimeout(r, 3000))]))),
  );
  for (const pair of pairs) for (const c of [pair.sender, pair.receiver]) if (c?.isOpen) c.terminate();
}

export function totals(pairs) {
  const sum = (key) => pairs.reduce((acc, p) => acc + p[key], 0);
  const ackFailures = {};
  for (const p of pairs) for (const [code, n] of p.ackFailures) ackFailures[code] = (ackFailures[code] ?? 0) + n;
  const closes = pairs.flatMap((p) => [p.sender?.closeCode, p.receiver?.closeCode]).filter((c) => c !== undefined);
  const errors = pairs.flatMap((p) => [...(p.sender?.errors ?? []), ...(p.receiver?.errors ?? [])]);
  return {
    sent: sum('sent'),
    acked: sum('ackedCount'),
    ackFailures,
    rawDeliveries: sum('rawDeliveries'),
    delivered: sum('distinctDelivered'),
    lost: pairs.reduce((acc, p) => acc + p.lost(), 0),
    duplicateOffsets: sum('duplicateOffsets'),
    storedTwice: sum('storedTwice'),
    outOfOrder: sum('outOfOrder'),
    gaps: sum('gaps'),
    unknown: sum('unknown'),
    unexpectedCloses: closes.length,
    errorFrames: errors.length,
    firstError: errors[0] ? `${errors[0].code} ${errors[0].details}` : undefined,
  };
}
