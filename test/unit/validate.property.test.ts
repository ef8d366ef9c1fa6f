/**
 * Properties of the field rules (src/protocol/validate.ts; SPEC §2 limits, §4 values, §10 codes)
 * with fast-check:
 *  1. robustness: on any decoded value — from arbitrary wire bytes or from hostile field values —
 *     a validator never throws and answers undefined or a FrameError with a code it may use (400,
 *     or 413 for message content), its own route, and the frame's id;
 *  2. exactness: its verdict equals an independent model of the rules written from the SPEC (byte
 *     lengths counted as UTF-8 by Buffer.byteLength, not by the codec), for limits drawn at random;
 *  3. the limits of SPEC §2 at their boundaries with the default limits, in one- to four-byte characters.
 * A failure prints fast-check's seed and shrunk counterexample; FC_SEED=<n> replays a run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Code,
  DEFAULT_LIMITS,
  FrameError,
  Route,
  checkAwareness,
  checkContact,
  checkMessage,
  checkOffsetCommit,
  checkPingPong,
  checkSignal,
  checkSyncRequest,
  checkVisibility,
  pb,
  utf8Length,
  type IdentityInit,
  type ProtocolLimits,
} from '../../src/protocol/index.js';
import { limitStringArb, payloadArb, protobufBytesArb } from '../fuzz/arbitraries.js';
import { varint } from '../fuzz/wire.js';

const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED']);
const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed });

type Codec<T> = { fromObject(object: Record<string, unknown>): unknown; encode(message: never): { finish(): Uint8Array }; decode(bytes: Uint8Array): T };

/** A value as the server sees it: encoded from `init`, decoded again (defaults filled in). */
function decoded<T>(type: Codec<T>, init: Record<string, unknown>): T {
  return type.decode(type.encode(type.fromObject(init) as never).finish());
}

/** A decoded value from arbitrary protobuf-shaped bytes, when they decode as that type at all. */
function fromBytes<T>(type: Codec<T>, bytes: Uint8Array): T | undefined {
  try {
    return type.decode(bytes);
  } catch {
    return undefined;
  }
}

interface Validator {
  name: string;
  route: number;
  typeName: string;
  type: Codec<never>;
  check(value: never, limits: ProtocolLimits): FrameError | undefined;
  /** The ErrorMessage id the answer must carry. */
  idOf(value: never): string;
  codes: number[];
}

const VALIDATORS: Validator[] = [
  {
    name: 'checkMessage',
    route: Route.Message,
    typeName: 'Message',
    type: pb.Message as never,
    check: checkMessage as never,
    idOf: (m: { id: string }) => m.id,
    codes: [Code.BadRequest, Code.TooLarge],
  } as Validator,
  {
    name: 'checkSignal',
    route: Route.Signal,
    typeName: 'Signal',
    type: pb.Signal as never,
    check: checkSignal as never,
    idOf: (s: { id: string }) => s.id,
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkSyncRequest',
    route: Route.Sync,
    typeName: 'Sync',
    type: pb.Sync as never,
    check: checkSyncRequest as never,
    idOf: (s: { id: string }) => s.id,
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkOffsetCommit',
    route: Route.OffsetCommit,
    typeName: 'OffsetCommit',
    type: pb.OffsetCommit as never,
    check: ((c: never) => checkOffsetCommit(c)) as never,
    idOf: () => '',
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkPingPong',
    route: Route.PingPong,
    typeName: 'PingPong',
    type: pb.PingPong as never,
    check: checkPingPong as never,
    idOf: (p: { id: string }) => p.id,
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkAwareness',
    route: Route.Awareness,
    typeName: 'Awareness',
    type: pb.Awareness as never,
    check: checkAwareness as never,
    idOf: (a: { id: string }) => a.id,
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkVisibility',
    route: Route.AwarenessVisibility,
    typeName: 'AwarenessVisibility',
    type: pb.AwarenessVisibility as never,
    check: checkVisibility as never,
    idOf: (v: { id: string }) => v.id,
    codes: [Code.BadRequest],
  } as Validator,
  {
    name: 'checkContact',
    route: Route.Contact,
    typeName: 'Contact',
    type: pb.Contact as never,
    check: checkContact as never,
    idOf: (c: { id: string }) => c.id,
    codes: [Code.BadRequest],
  } as Validator,
];

const limitsArb: fc.Arbitrary<ProtocolLimits> = fc.oneof(
  fc.constant({ ...DEFAULT_LIMITS }),
  fc.record({
    maxFrameBytes: fc.constant(DEFAULT_LIMITS.maxFrameBytes),
    maxContentBytes: fc.integer({ min: 0, max: 70_000 }),
    maxIdBytes: fc.integer({ min: 1, max: 300 }),
    maxEidBytes: fc.integer({ min: 1, max: 300 }),
  }),
);

/** The answer is undefined or a FrameError this validator may give, for its route, with the frame's id. */
function expectWellFormedVerdict(validator: Validator, value: never, limits: ProtocolLimits): void {
  let verdict: FrameError | undefined;
  expect(() => (verdict = validator.check(value, limits))).not.toThrow();
  if (verdict === undefined) return;
  expect(verdict).toBeInstanceOf(FrameError);
  expect(validator.codes).toContain(verdict.code);
  expect(verdict.route).toBe(validator.route);
  expect(verdict.id).toBe(validator.idOf(value));
  expect(verdict.message.length).toBeGreaterThan(0);
}

describe('validate properties - robustness', () => {
  for (const validator of VALIDATORS) {
    it(`validate property - ${validator.name} never throws on hostile field values and answers only its own codes, route and id`, () => {
      fc.assert(
        fc.property(payloadArb(validator.typeName, 'wild'), limitsArb, (init, limits) => {
          // Strings that are not UTF-8 on the wire (lone surrogates) do not decode: such a frame
          // never reaches a validator (decodeFrame answers 400; see codec.property.test.ts).
          const value = fromBytes(validator.type, validator.type.encode(validator.type.fromObject(init) as never).finish());
          if (value !== undefined) expectWellFormedVerdict(validator, value as never, limits);
        }),
        runs(400),
      );
    });

    it(`validate property - ${validator.name} never throws on values decoded from arbitrary protobuf-shaped bytes`, () => {
      fc.assert(
        fc.property(fc.oneof(protobufBytesArb, fc.uint8Array({ maxLength: 200 })), limitsArb, (bytes, limits) => {
          const value = fromBytes(validator.type, bytes);
          if (value !== undefined) expectWellFormedVerdict(validator, value as never, limits);
        }),
        runs(400),
      );
    });
  }

  it('validate property - utf8Length (what the limits count) equals the UTF-8 byte length for any string, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: fc.constantFrom('\ud800', '\udc00', 'a', '🙂') })),
        (text) => {
          expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
        },
      ),
      runs(2000),
    );
  });
});

// ---- 2. The rules as an independent model (SPEC §2 limits, §4 and §6 values). ----

type Verdict = 'ok' | number;
const bytesOf = (text: string | null | undefined): number => Buffer.byteLength(text ?? '', 'utf8');
const idOk = (text: string | null | undefined, limits: ProtocolLimits, optional = false): boolean => {
  const length = bytesOf(text);
  return length === 0 ? optional : length <= limits.maxIdBytes;
};
const identityOk = (identity: IdentityInit | null | undefined, limits: ProtocolLimits): boolean => {
  const eid = bytesOf(identity?.eid);
  return eid >= 1 && eid <= limits.maxEidBytes && idOk(identity?.connectionResourceId, limits, true);
};
const SAFE_OFFSET = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

const verdictOf = (error: FrameError | undefined): Verdict => (error === undefined ? 'ok' : error.code);

/** Strings on and around every limit, plus short ordinary ones. */
const textArb = fc.oneof(limitStringArb(), fc.constantFrom('', 'x', 'm-1', 'bob@example.com'), fc.string({ unit: 'grapheme', maxLength: 8 }));
const identityArb = fc.option(fc.record({ eid: textArb, connectionResourceId: textArb }, { requiredKeys: [] }), { nil: undefined });
const smallIntArb = (values: number[]): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(...values), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const timestampArb = fc.oneof(fc.constantFrom(0, -1, 1_700_000_000_000), fc.maxSafeInteger());
const offsetWireArb = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

describe('validate properties - verdicts equal the SPEC model', () => {
  it('validate property - checkMessage: id 1..maxId bytes, to.eid 1..maxEid, device ≤ maxId, type 0–2, status 0–1, timestamp ≥ 0, encryption_type ≤ maxId, else 400; content over the limit 413', () => {
    const contentArb = fc.tuple(
      fc.integer({ min: -3, max: 3 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.boolean(),
    );
    fc.assert(
      fc.property(
        limitsArb,
        textArb,
        identityArb,
        smallIntArb([0, 1, 2, 3, -1]),
        smallIntArb([0, 1, 2, -1]),
        timestampArb,
        textArb,
        contentArb,
        (limits, id, to, type, status, timestamp, encryptionType, [delta, a, b, nearLimit]) => {
          // Content split between payload, encrypted and signature, near the limit or small.
          const total = nearLimit ? Math.max(0, limits.maxContentBytes + delta) : Math.abs(delta) * 10;
          const encrypted = Math.floor(total * a * 0.5);
          const signature = Math.floor((total - encrypted) * b * 0.5);
          const init = {
            id,
            to,
            type,
            status,
            timestamp,
            encryptionType,
            payload: new Uint8Array(total - encrypted - signature),
            encrypted: 'e'.repeat(encrypted),
            signature: 's'.repeat(signature),
          };
          const message = decoded(pb.Message, init);
          let expected: Verdict = 'ok';
          if (
            !idOk(message.id, limits) ||
            !identityOk(message.to, limits) ||
            ![0, 1, 2].includes(message.type) ||
            ![0, 1].includes(message.status) ||
            message.timestamp < 0 ||
            bytesOf(message.encryptionType) > limits.maxIdBytes
          ) {
            expected = Code.BadRequest;
          } else if (message.payload.length + bytesOf(message.encrypted) + bytesOf(message.signature) > limits.maxContentBytes) {
            expected = Code.TooLarge;
          }
          expect(verdictOf(checkMessage(message, limits))).toBe(expected);
        },
      ),
      runs(1500),
    );
  });

  it('validate property - checkSignal: id and to required; status 2–12; receipts (2–5) need a decimal signal_id; timestamp ≥ 0', () => {
    const signalIdArb = fc.oneof(
      fc.constantFrom('', '0', '1', '42', '01', '-1', '1e3', ' 1', '9'.repeat(16), '9'.repeat(17)),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        limitsArb,
        textArb,
        identityArb,
        smallIntArb([0, 1, 2, 5, 6, 12, 13]),
        signalIdArb,
        timestampArb,
        (limits, id, to, status, signalId, timestamp) => {
          const signal = decoded(pb.Signal, { id, to, status, signalId, timestamp });
          const ok =
            idOk(signal.id, limits) &&
            identityOk(signal.to, limits) &&
            signal.status >= 2 &&
            signal.status <= 12 &&
            (signal.status > 5 || /^[1-9][0-9]{0,15}$/.test(signal.signalId)) &&
            signal.timestamp >= 0;
          expect(verdictOf(checkSignal(signal, limits))).toBe(ok ? 'ok' : Code.BadRequest);
        },
      ),
      runs(1500),
    );
  });

  it('validate property - checkSyncRequest: id required, type 1, after_offset a safe integer (any uint64 on the wire)', () => {
    fc.assert(
      fc.property(limitsArb, textArb, smallIntArb([0, 1, 2, 3]), offsetWireArb, (limits, id, type, afterOffset) => {
        const head = pb.Sync.encode(pb.Sync.fromObject({ id, type })).finish();
        const sync = pb.Sync.decode(Uint8Array.from([...head, 0x18, ...varint(afterOffset)]));
        const ok = idOk(sync.id, limits) && sync.type === 1 && afterOffset <= BigInt(Number.MAX_SAFE_INTEGER);
        expect(SAFE_OFFSET(sync.afterOffset)).toBe(afterOffset <= BigInt(Number.MAX_SAFE_INTEGER));
        expect(verdictOf(checkSyncRequest(sync, limits))).toBe(ok ? 'ok' : Code.BadRequest);
      }),
      runs(1000),
    );
  });

  it('validate property - checkOffsetCommit: accepted exactly when user_offset on the wire is at most 2^53-1', () => {
    fc.assert(
      fc.property(offsetWireArb, (userOffset) => {
        const commit = pb.OffsetCommit.decode(Uint8Array.from([0x08, ...varint(userOffset)]));
        expect(verdictOf(checkOffsetCommit(commit))).toBe(userOffset <= BigInt(Number.MAX_SAFE_INTEGER) ? 'ok' : Code.BadRequest);
      }),
      runs(1000),
    );
  });

  it('validate property - checkPingPong: id optional up to maxId bytes, type 1 (PING) or 2 (PONG)', () => {
    fc.assert(
      fc.property(limitsArb, textArb, smallIntArb([0, 1, 2, 3]), (limits, id, type) => {
        const ping = decoded(pb.PingPong, { id, type });
        expect(verdictOf(checkPingPong(ping, limits))).toBe(idOk(ping.id, limits, true) && (type === 1 || type === 2) ? 'ok' : Code.BadRequest);
      }),
      runs(1000),
    );
  });

  it('validate property - checkVisibility: id optional up to maxId bytes, type 1 (visible) or 2 (hidden)', () => {
    fc.assert(
      fc.property(limitsArb, textArb, smallIntArb([0, 1, 2, 3]), (limits, id, type) => {
        const visibility = decoded(pb.AwarenessVisibility, { id, type });
        expect(verdictOf(checkVisibility(visibility, limits))).toBe(idOk(visibility.id, limits, true) && (type === 1 || type === 2) ? 'ok' : Code.BadRequest);
      }),
      runs(1000),
    );
  });

  it('validate property - checkContact: id required, type 1, action 1–7, `to` required except for LIST (7), details ≤ 1024 bytes', () => {
    fc.assert(
      fc.property(
        limitsArb,
        textArb,
        identityArb,
        smallIntArb([0, 1, 2]),
        smallIntArb([0, 1, 4, 6, 7, 8]),
        fc.oneof(textArb, fc.constantFrom('d'.repeat(1024), 'd'.repeat(1025), 'é'.repeat(512), 'é'.repeat(513))),
        (limits, id, to, type, action, details) => {
          const contact = decoded(pb.Contact, { id, to, type, action, details });
          const ok =
            idOk(contact.id, limits) &&
            type === 1 &&
            action >= 1 &&
            action <= 7 &&
            (action === 7 || identityOk(contact.to, limits)) &&
            bytesOf(details) <= 1024;
          expect(verdictOf(checkContact(contact, limits))).toBe(ok ? 'ok' : Code.BadRequest);
        },
      ),
      runs(1500),
    );
  });

  it('validate property - checkAwareness: a query (with `to`) needs a valid `to` and status 0; a setting needs status 1/3/4/5, sharing 0–2, ttl ≥ 0, |lat| ≤ 90, |lon| ≤ 180 (NaN refused), details ≤ 1024 bytes, timestamp ≥ 0', () => {
    const coordinateArb = fc.oneof(fc.constantFrom(0, 90, -90, 90.000001, 180, -180, 180.5, NaN, Infinity, -Infinity, -0), fc.double());
    fc.assert(
      fc.property(
        limitsArb,
        fc.record({
          id: textArb,
          type: smallIntArb([0, 1, 2]),
          to: identityArb,
          status: smallIntArb([0, 1, 2, 3, 4, 5, 6]),
          locationSharing: smallIntArb([0, 1, 2, 3]),
          latitude: coordinateArb,
          longitude: coordinateArb,
          ttl: smallIntArb([0, 1, -1, 3600]),
          details: fc.oneof(textArb, fc.constantFrom('d'.repeat(1024), 'd'.repeat(1025))),
          timestamp: timestampArb,
        }),
        (limits, init) => {
          const awareness = decoded(pb.Awareness, init);
          let ok: boolean;
          if (!idOk(awareness.id, limits, true) || awareness.type !== 1) ok = false;
          else if (awareness.to && (awareness.to.eid || awareness.to.connectionResourceId)) ok = identityOk(awareness.to, limits) && awareness.status === 0;
          else {
            ok =
              [1, 3, 4, 5].includes(awareness.status) &&
              [0, 1, 2].includes(awareness.locationSharing) &&
              awareness.ttl >= 0 &&
              Math.abs(awareness.latitude) <= 90 &&
              Math.abs(awareness.longitude) <= 180 &&
              bytesOf(awareness.details) <= 1024 &&
              awareness.timestamp >= 0;
          }
          expect(verdictOf(checkAwareness(awareness, limits))).toBe(ok ? 'ok' : Code.BadRequest);
        },
      ),
      runs(1500),
    );
  });
});

// ---- 3. SPEC §2 limits at their boundaries, default limits. ----

/** A string of exactly `bytes` UTF-8 bytes made of `unit` characters (padded with ASCII). */
function ofBytes(bytes: number, unit: string): string {
  const size = Buffer.byteLength(unit);
  return unit.repeat(Math.floor(bytes / size)) + 'a'.repeat(bytes % size);
}
const unitArb = fc.constantFrom('a', 'é', '€', '🙂');
const base = { id: 'm-1', to: { eid: 'bob@example.com' }, type: 1 };

describe('validate properties - SPEC §2 limits at the boundaries', () => {
  it('validate property - a Message id of n UTF-8 bytes is accepted exactly when 1 ≤ n ≤ 128, whatever the characters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 140 }), unitArb, (n, unit) => {
        const id = ofBytes(n, unit);
        const verdict = checkMessage(decoded(pb.Message, { ...base, id }), DEFAULT_LIMITS);
        expect(verdictOf(verdict)).toBe(n >= 1 && n <= 128 ? 'ok' : Code.BadRequest);
        if (verdict) expect(verdict.id).toBe(id);
      }),
      runs(500),
    );
  });

  it('validate property - an eid of n UTF-8 bytes is accepted exactly when 1 ≤ n ≤ 256 (Message.to, Signal.to, Contact.to, Awareness query)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 270 }), unitArb, (n, unit) => {
        const to = { eid: ofBytes(n, unit) };
        const expected = n >= 1 && n <= 256 ? 'ok' : Code.BadRequest;
        expect(verdictOf(checkMessage(decoded(pb.Message, { ...base, to }), DEFAULT_LIMITS))).toBe(expected);
        expect(verdictOf(checkSignal(decoded(pb.Signal, { id: 's', to, status: 6 }), DEFAULT_LIMITS))).toBe(expected);
        expect(verdictOf(checkContact(decoded(pb.Contact, { id: 'c', to, type: 1, action: 1 }), DEFAULT_LIMITS))).toBe(expected);
        if (n > 0) expect(verdictOf(checkAwareness(decoded(pb.Awareness, { id: 'q', to, type: 1, status: 0 }), DEFAULT_LIMITS))).toBe(expected);
      }),
      runs(500),
    );
  });

  it('validate property - a device id (to.connection_resource_id) of n bytes is accepted exactly when n ≤ 128 (empty = every device)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 140 }), unitArb, (n, unit) => {
        const to = { eid: 'bob@example.com', connectionResourceId: ofBytes(n, unit) };
        expect(verdictOf(checkMessage(decoded(pb.Message, { ...base, to }), DEFAULT_LIMITS))).toBe(n <= 128 ? 'ok' : Code.BadRequest);
      }),
      runs(300),
    );
  });

  it('validate property - content (payload + encrypted + signature) of n bytes is accepted up to 65,536 and is 413 with the id above', () => {
    fc.assert(
      fc.property(fc.integer({ min: 65_530, max: 65_540 }), fc.nat(), fc.nat(), unitArb, (n, x, y, unit) => {
        const encryptedBytes = x % (n + 1);
        const signatureBytes = y % (n - encryptedBytes + 1);
        const encrypted = ofBytes(encryptedBytes, unit);
        const signature = ofBytes(signatureBytes, unit);
        const message = decoded(pb.Message, { ...base, payload: new Uint8Array(n - encryptedBytes - signatureBytes), encrypted, signature });
        const verdict = checkMessage(message, DEFAULT_LIMITS);
        expect(verdictOf(verdict)).toBe(n <= 65_536 ? 'ok' : Code.TooLarge);
        if (verdict) expect(verdict.id).toBe('m-1');
      }),
      runs(500),
    );
  });
});
