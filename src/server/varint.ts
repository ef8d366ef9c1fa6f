/** Protobuf base-128 varints of non-negative safe integers, for the frames written by hand (entry-frames.ts, ack-frame.ts). */

export function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** Writes `value` at `start`; returns the index after it. */
export function writeVarint(into: Uint8Array, start: number, value: number): number {
  let at = start;
  let v = value;
  while (v >= 0x80) {
    into[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  into[at++] = v;
  return at;
}
