/**
 * Issue #10: entry frames are spliced from the stored body plus an appended `user_offset` instead of
 * decoded and re-encoded. Whatever the stored body (any valid Message, Signal or Contact, with or
 * without a user_offset of its own), both the server's and the SDK's codec read from the spliced
 * frame exactly what the old decode + set + encode produced.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as lite from '../../packages/protocol/src/lite-codec.js';
import { EntryKind, type QueueEntry } from '../../src/core/types.js';
import { encodeEntryFrame } from '../../src/server/entry-frames.js';
import { decodeFrame, encodeFrame, pb, type Frame } from '../../src/protocol/index.js';
import { payloadArb } from '../fuzz/arbitraries.js';

type PbType = {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): Record<string, unknown>;
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
};
const typeOf = (name: string): PbType => (pb as unknown as Record<string, PbType>)[name]!;
const PLAIN = { defaults: true, longs: Number, bytes: Array, arrays: true };
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);

const KINDS = [
  { kind: EntryKind.Message, type: 'Message', field: 'message' },
  { kind: EntryKind.Signal, type: 'Signal', field: 'signal' },
  { kind: EntryKind.Contact, type: 'Contact', field: 'contact' },
] as const;

describe('entry frames', () => {
  for (const { kind, type, field } of KINDS) {
    it(`entry frame - a ${type} entry spliced from its stored body reads the same as decode + set user_offset + encode`, () => {
      fc.assert(
        fc.property(payloadArb(type), fc.integer({ min: 1, max: 2 ** 53 - 1 }), (value, offset) => {
          const body = typeOf(type).encode(typeOf(type).fromObject(value)).finish();
          const entry = { eid: 'u', offset, kind, signalId: '1', authorDevice: 'd', targetDevice: '', body, storedAt: 0 } as QueueEntry;
          const expected = typeOf(type).decode(body);
          expected['userOffset'] = offset;
          const before = decodeFrame(encodeFrame(field as Frame['field'], expected));
          const spliced = encodeEntryFrame(entry);
          const after = decodeFrame(spliced);
          expect(after.route).toBe(before.route);
          expect(after.field).toBe(field);
          expect(typeOf(type).toObject(after.value, PLAIN)).toEqual(typeOf(type).toObject(before.value, PLAIN));
          const inSdk = lite.decodeFrame(spliced);
          expect((inSdk.value as { userOffset: number }).userOffset).toBe(offset);
        }),
        { numRuns: 300, seed },
      );
    });
  }
});
