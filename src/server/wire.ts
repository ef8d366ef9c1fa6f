/**
 * Wire pieces of the frames written by hand (entry-frames.ts, ack-frame.ts): protobuf base-128
 * varints of non-negative safe integers, and the MessageScheme header in front of a payload.
 */

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

/**
 * MessageScheme's header before a payload: `route` (field 1, varint) and the payload field, whose
 * number is the route (bimip.proto), as a tag and a length. Every route is below 128.
 */
export function schemeHeaderSize(route: number, payloadLength: number): number {
  return 2 + varintSize((route << 3) | 2) + varintSize(payloadLength);
}

/** Writes the header at the start of `into`; returns the index where the payload goes. */
export function writeSchemeHeader(into: Uint8Array, route: number, payloadLength: number): number {
  into[0] = 1 << 3;
  into[1] = route;
  return writeVarint(into, writeVarint(into, 2, (route << 3) | 2), payloadLength);
}
