/**
 * Frame ⇄ bytes. Decoding checks the envelope rules of SPEC §3 (route equals the field number of
 * the one payload that is set); field-level rules live in validate.ts.
 */
import protobuf from 'protobufjs/minimal.js';
import { ROUTE_BY_FIELD, Code } from './codes.js';
import { checkedFrame } from './envelope.js';
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
  const field = scheme.payload;
  return checkedFrame(Number(scheme.route), field, field === undefined ? undefined : (scheme as unknown as Record<string, unknown>)[field]);
}

/** UTF-8 byte length without Buffer, so the codec also runs in browsers. */
export function utf8Length(text: string): number {
  return protobuf.util.utf8.length(text);
}
