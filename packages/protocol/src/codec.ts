/**
 * Frame ⇄ bytes. Decoding checks the envelope rules of SPEC §3 (route equals the field number of
 * the one payload that is set); field-level rules live in validate.ts.
 */
import protobuf from 'protobufjs/minimal.js';
import { PAYLOAD_FIELD_BY_ROUTE, ROUTE_BY_FIELD, Code } from './codes.js';

import { FrameError } from './frame-error.js';
import { pb, type Frame } from './schema.js';

export { FrameError };

type FrameOf<F extends Frame['field']> = Extract<Frame, { field: F }>;

/** Encodes one payload into a MessageScheme frame. */
export function encodeFrame<F extends Frame['field']>(field: F, value: FrameOf<F>['value'] | object): Uint8Array {
  const route = ROUTE_BY_FIELD[field];
  return pb.MessageScheme.encode({ route, [field]: value } as never).finish();
}

/** Decodes bytes into a frame; throws FrameError(400) for anything that is not one valid envelope. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let scheme: InstanceType<typeof pb.MessageScheme>;
  try {
    scheme = pb.MessageScheme.decode(bytes);
  } catch (err) {
    throw new FrameError(Code.BadRequest, `frame does not decode as MessageScheme: ${(err as Error).message}`);
  }
  const route = Number(scheme.route);
  const field = scheme.payload;
  if (field === undefined) {
    throw new FrameError(Code.BadRequest, 'frame has no payload', route);
  }
  const value = (scheme as unknown as Record<string, { id?: unknown }>)[field]!;
  const id = typeof value.id === 'string' ? value.id : '';
  const expected = PAYLOAD_FIELD_BY_ROUTE[route];
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

/** UTF-8 byte length without Buffer, so the codec also runs in browsers. */
export function utf8Length(text: string): number {
  return protobuf.util.utf8.length(text);
}
