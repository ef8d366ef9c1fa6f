/**
 * SPEC §3 envelope rules, shared by both codecs (codec.ts for the server, lite-codec.ts for the
 * SDK): a frame names a known route and carries exactly the payload whose field number it is.
 */
import { Code, PAYLOAD_FIELD_BY_ROUTE } from './codes.js';
import { FrameError } from './frame-error.js';
import type { Frame } from './schema.js';

/** The frame, or FrameError(400) naming the route and, when the payload has one, its id. */
export function checkedFrame(route: number, field: string | undefined, value: unknown): Frame {
  const expected = PAYLOAD_FIELD_BY_ROUTE[route];
  // An unknown route is reported as such even without a payload: a newer peer's payload is an
  // unknown field to this codec, and clients skip unknown routes silently (forward compatibility).
  if (field === undefined) throw new FrameError(Code.BadRequest, expected === undefined ? `unknown route ${route}` : 'frame has no payload', route);
  const id = typeof (value as { id?: unknown }).id === 'string' ? (value as { id: string }).id : '';
  if (expected !== field) {
    throw new FrameError(
      Code.BadRequest,
      expected === undefined ? `unknown route ${route}` : `route ${route} carries ${field}, expected ${expected}`,
      route,
      id,
    );
  }
  return { route, field, value } as Frame;
}
