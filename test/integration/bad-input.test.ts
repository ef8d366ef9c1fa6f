/**
 * SPEC §2, §3, §6 F1/F3, §7.6, §10: the bad-input matrix over real sockets. Every bad frame gets the
 * exact code the spec names, the connection stays or closes as the spec says, nothing is stored, and
 * the server keeps serving other clients. One server serves the whole file, so the last test proves
 * it survived everything before it.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { ConnectionClosedError, type BimipConnection } from '../../src/client/index.js';
import { CloseCode, Code, PingType, Route, encodeFrame, pb, type ErrorMessage } from '../../src/protocol/index.js';
import { TEST_SECRET, noEntryWithin, startHarness, takeEntries, takeMessages, text, type Harness } from '../helpers/harness.js';
import { attemptUpgrade, connectRaw, storedCounts, type RawClient } from '../helpers/raw.js';
import { seededBytes, waitFor, within } from '../helpers/wait.js';

let h: Harness;
const opened: BimipConnection[] = [];
let sequence = 0;
const uniqueEid = (name: string): string => `${name}-${++sequence}@bad-input.test`;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await Promise.allSettled(opened.map((client) => within(client.close(), 'client close', 2000)));
  await h.close();
});

async function connect(eid: string, device = 'phone'): Promise<RawClient> {
  const raw = await connectRaw(h.server.url, await h.token(eid, device));
  opened.push(raw.client);
  await within(raw.client.caughtUp, `caught-up marker for ${eid}/${device}`);
  return raw;
}

/** Waits for the next ErrorMessage after the `seen` already in `client.errors`. */
async function nextError(client: BimipConnection, seen: number): Promise<ErrorMessage> {
  await waitFor(() => client.errors.length > seen, `ErrorMessage #${seen + 1}`);
  return client.errors[seen]!;
}

/** The connection is open and answered in order: a PING round trip. */
async function expectOpen(client: BimipConnection): Promise<void> {
  const pong = await within(client.ping(), 'PONG');
  expect(pong.type).toBe(PingType.PONG);
  expect(client.isOpen).toBe(true);
}

/** Another, fresh pair of clients can still exchange a message. */
async function expectServerServes(): Promise<void> {
  const receiverEid = uniqueEid('witness-b');
  const { client: receiver } = await connect(receiverEid);
  const { client: sender } = await connect(uniqueEid('witness-a'));
  const ack = await within(sender.send({ to: receiverEid, payload: 'still serving' }), 'witness Ack');
  expect(ack.code).toBe(Code.OK);
  const [entry] = await takeMessages(receiver, 1);
  expect(text(entry!.message.payload)).toBe('still serving');
  expect(entry!.message.signalId).toBe(ack.signalId);
}

describe('bad input - frames that are not a valid envelope', () => {
  it('bad input - random bytes (several seeds) get ErrorMessage 400 each and the connection stays open', async () => {
    const { client } = await connect(uniqueEid('random'));
    const before = storedCounts(h.dataDir);
    const cases: Array<[seed: number, length: number]> = [
      [1, 1],
      [2, 7],
      [3, 64],
      [42, 500],
      [1337, 4096],
      [2024, 65_000],
    ];
    for (const [seed, length] of cases) {
      const seen = client.errors.length;
      client.sendRaw(seededBytes(seed, length));
      const error = await nextError(client, seen);
      expect(error.code, `seed ${seed}, ${length} bytes`).toBe(Code.BadRequest);
      await expectOpen(client);
      expect(client.errors.length, `exactly one error for seed ${seed}`).toBe(seen + 1);
    }
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectServerServes();
  });

  it('bad input - truncated Message frames get ErrorMessage 400 each and nothing is stored', async () => {
    const receiverEid = uniqueEid('truncated-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('truncated-a'));
    const before = storedCounts(h.dataDir);
    const whole = encodeFrame('message', { id: 'cut-1', to: { eid: receiverEid }, type: 1, payload: new TextEncoder().encode('x'.repeat(300)) });
    const cuts = [3, 10, Math.floor(whole.length / 2), whole.length - 1];
    for (const [index, cut] of cuts.entries()) {
      client.sendRaw(whole.subarray(0, cut));
      expect((await nextError(client, index)).code, `cut at ${cut} of ${whole.length}`).toBe(Code.BadRequest);
    }
    await expectOpen(client);
    expect(client.errors).toHaveLength(cuts.length);
    expect(await noEntryWithin(receiver, 150)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
  });

  it('bad input - a zero-byte frame gets ErrorMessage 400 and the connection stays open', async () => {
    const { client } = await connect(uniqueEid('empty-frame'));
    client.sendRaw(new Uint8Array(0));
    expect((await nextError(client, 0)).code).toBe(Code.BadRequest);
    await expectOpen(client);
  });

  it('bad input - a text frame gets ErrorMessage 400 and the connection stays open', async () => {
    const { client, socket } = await connect(uniqueEid('text'));
    const before = storedCounts(h.dataDir);
    socket.send('{"route":6,"message":{"id":"t1"}}', { binary: false });
    expect((await nextError(client, 0)).code).toBe(Code.BadRequest);
    // A valid frame's bytes sent as text are still a text frame.
    socket.send(Buffer.from(encodeFrame('pingPong', { id: 'as-text', type: PingType.PING })).toString('latin1'), { binary: false });
    expect((await nextError(client, 1)).code).toBe(Code.BadRequest);
    await expectOpen(client);
    expect(client.errors).toHaveLength(2);
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectServerServes();
  });

  it('bad input - route/payload mismatch gets 400 with error_origin and id, and the payload is not acted on', async () => {
    const receiverEid = uniqueEid('mismatch-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('mismatch-a'));
    const before = storedCounts(h.dataDir);

    // A Message under route 3 (PingPong): refused, not stored, not delivered.
    client.sendRaw(
      pb.MessageScheme.encode({ route: Route.PingPong, message: { id: 'mm-1', to: { eid: receiverEid }, payload: new Uint8Array([1]) } }).finish(),
    );
    const first = await nextError(client, 0);
    expect(first).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.PingPong, id: 'mm-1' });

    // A PingPong under route 6 (Message): refused, no PONG.
    client.sendRaw(pb.MessageScheme.encode({ route: Route.Message, pingPong: { id: 'pp-1', type: PingType.PING } }).finish());
    const second = await nextError(client, 1);
    expect(second).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Message, id: 'pp-1' });

    await expectOpen(client);
    expect(await noEntryWithin(receiver, 200)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
    expect((await h.store.queueInfo(receiverEid)).head).toBe(0);
    await expectServerServes();
  });

  it('bad input - a route with no payload gets ErrorMessage 400 with that route as error_origin', async () => {
    const { client } = await connect(uniqueEid('no-payload'));
    client.sendRaw(pb.MessageScheme.encode({ route: Route.Message }).finish());
    expect(await nextError(client, 0)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Message });
    client.sendRaw(pb.MessageScheme.encode({ route: Route.Sync }).finish());
    expect(await nextError(client, 1)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Sync });
    await expectOpen(client);
  });

  it('bad input - unknown and reserved route numbers get ErrorMessage 400', async () => {
    const { client } = await connect(uniqueEid('unknown-route'));
    // route 99 carrying a PingPong.
    client.sendRaw(pb.MessageScheme.encode({ route: 99, pingPong: { id: 'u-1', type: PingType.PING } }).finish());
    expect(await nextError(client, 0)).toMatchObject({ code: Code.BadRequest, errorOrigin: 99, id: 'u-1' });
    // route 7 (reserved) with bytes in the unknown field 7: route = 7, field 7 = {0x08 0x01}.
    client.sendRaw(new Uint8Array([0x08, 0x07, 0x3a, 0x02, 0x08, 0x01]));
    expect(await nextError(client, 1)).toMatchObject({ code: Code.BadRequest, errorOrigin: 7 });
    // route 0 carrying a PingPong.
    client.sendRaw(pb.MessageScheme.encode({ route: 0, pingPong: { id: 'u-0', type: PingType.PING } }).finish());
    expect((await nextError(client, 2)).code).toBe(Code.BadRequest);
    await expectOpen(client);
    expect(client.errors).toHaveLength(3);
  });

  it('bad input - routes only the server sends (Ack 13, Error 10, Body 9) from a client get 400', async () => {
    const { client } = await connect(uniqueEid('server-only'));
    const before = storedCounts(h.dataDir);
    client.sendRaw(encodeFrame('ack', { id: 'fake-ack', signalId: '1', userOffset: 1, status: 1, code: Code.OK }));
    expect(await nextError(client, 0)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Ack, id: 'fake-ack' });
    client.sendRaw(encodeFrame('error', { code: Code.Internal, id: 'fake-error', details: 'boom' }));
    expect(await nextError(client, 1)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Error, id: 'fake-error' });
    client.sendRaw(encodeFrame('body', { route: Route.Awareness, awarenessList: [] }));
    expect(await nextError(client, 2)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.Body });
    await expectOpen(client);
    expect(client.errors).toHaveLength(3);
    expect(storedCounts(h.dataDir)).toEqual(before);
  });
});

describe('bad input - invalid messages', () => {
  it('bad input - a Message with an empty id gets Ack 400 and nothing is stored', async () => {
    const receiverEid = uniqueEid('empty-id-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('empty-id-a'));
    const before = storedCounts(h.dataDir);
    const ack = await within(client.send({ id: '', to: receiverEid, payload: 'x' }), 'Ack for empty id');
    expect(ack).toMatchObject({ id: '', code: Code.BadRequest, signalId: '', userOffset: 0 });
    expect(client.errors).toHaveLength(0);
    expect(await noEntryWithin(receiver, 150)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectOpen(client);
  });

  it('bad input - a Message with a 200-byte id gets Ack 400 carrying that id and nothing is stored', async () => {
    const receiverEid = uniqueEid('long-id-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('long-id-a'));
    const before = storedCounts(h.dataDir);
    const longId = 'i'.repeat(200);
    const ack = await within(client.send({ id: longId, to: receiverEid, payload: 'x' }), 'Ack for 200-byte id');
    expect(ack).toMatchObject({ id: longId, code: Code.BadRequest, signalId: '' });
    // 129 bytes of UTF-8 in fewer characters is over the limit too.
    const multiByteId = `${'é'.repeat(64)}x`;
    const ack2 = await within(client.send({ id: multiByteId, to: receiverEid, payload: 'x' }), 'Ack for 129-byte id');
    expect(ack2).toMatchObject({ id: multiByteId, code: Code.BadRequest });
    expect(await noEntryWithin(receiver, 150)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectOpen(client);
  });

  it('bad input - content over 65,536 bytes gets Ack 413 with the id and nothing is stored', async () => {
    const receiverEid = uniqueEid('big-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('big-a'));
    const before = storedCounts(h.dataDir);
    const ack = await within(client.send({ id: 'big-1', to: receiverEid, payload: new Uint8Array(65 * 1024 + 1) }), 'Ack for 65 KiB');
    expect(ack).toMatchObject({ id: 'big-1', code: Code.TooLarge, signalId: '' });
    // The limit is on payload + encrypted + signature together.
    const split = await within(
      client.send({ id: 'big-2', to: receiverEid, payload: new Uint8Array(40_000), encrypted: 'e'.repeat(20_000), signature: 's'.repeat(6_000) }),
      'Ack for split content',
    );
    expect(split).toMatchObject({ id: 'big-2', code: Code.TooLarge });
    expect(await noEntryWithin(receiver, 150)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectOpen(client);
  });

  it('bad input - ids of exactly 128 bytes and content of exactly 65,536 bytes are accepted', async () => {
    const receiverEid = uniqueEid('edge-b');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(uniqueEid('edge-a'));
    const edgeId = 'k'.repeat(128);
    const ack = await within(
      client.send({ id: edgeId, to: receiverEid, payload: new Uint8Array(65_536 - 100), encrypted: 'e'.repeat(60), signature: 's'.repeat(40) }),
      'Ack at the limits',
    );
    expect(ack).toMatchObject({ id: edgeId, code: Code.OK, userOffset: 1 });
    const [entry] = await takeMessages(receiver, 1);
    expect(entry!.message.id).toBe(edgeId);
    expect(entry!.message.payload.length).toBe(65_536 - 100);
  });

  it('bad input - a spoofed from (other eid, same eid other device, same eid no device) gets Ack 403 and nothing is stored', async () => {
    const receiverEid = uniqueEid('spoof-b');
    const senderEid = uniqueEid('spoof-a');
    const { client: receiver } = await connect(receiverEid);
    const { client } = await connect(senderEid, 'phone');
    const before = storedCounts(h.dataDir);
    const spoofs = [
      { id: 'spoof-other-eid', from: { eid: receiverEid, connectionResourceId: 'phone' } },
      { id: 'spoof-other-device', from: { eid: senderEid, connectionResourceId: 'laptop' } },
      { id: 'spoof-no-device', from: { eid: senderEid } },
    ];
    for (const { id, from } of spoofs) {
      const ack = await within(client.send({ id, to: receiverEid, from, payload: 'spoof' }), `Ack for ${id}`);
      expect(ack, id).toMatchObject({ id, code: Code.Forbidden, signalId: '', userOffset: 0 });
    }
    // SPEC §4: any from other than exactly the session's identity is a 403, a device without an eid too.
    const deviceOnly = await within(
      client.send({ id: 'spoof-device-only', to: receiverEid, from: { connectionResourceId: 'phone' }, payload: 'spoof' }),
      'Ack',
    );
    expect(deviceOnly.code).toBe(Code.Forbidden);
    expect(deviceOnly.id).toBe('spoof-device-only');
    expect(await noEntryWithin(receiver, 150)).toBe(true);
    expect(storedCounts(h.dataDir)).toEqual(before);
    expect((await h.store.queueInfo(receiverEid)).head).toBe(0);
    expect((await h.store.queueInfo(senderEid)).head).toBe(0);

    // Control: exactly the session's identity is accepted, and the id refused before is still free.
    const ok = await within(
      client.send({ id: 'spoof-other-eid', to: receiverEid, from: { eid: senderEid, connectionResourceId: 'phone' }, payload: 'real' }),
      'Ack',
    );
    expect(ok.code).toBe(Code.OK);
    const [entry] = await takeMessages(receiver, 1);
    expect(entry!.message.from).toMatchObject({ eid: senderEid, connectionResourceId: 'phone' });
    expect(text(entry!.message.payload)).toBe('real');
  });

  it('bad input - OffsetCommit above the head gets ErrorMessage 400 and the cursor does not move', async () => {
    const receiverEid = uniqueEid('commit-b');
    const { client: receiver } = await connect(receiverEid);
    const { client: sender } = await connect(uniqueEid('commit-a'));
    expect(await h.store.getCursor(receiverEid, 'phone')).toBe(0);
    receiver.commit(5);
    expect(await nextError(receiver, 0)).toMatchObject({ code: Code.BadRequest, errorOrigin: Route.OffsetCommit });
    await expectOpen(receiver);
    expect(await h.store.getCursor(receiverEid, 'phone')).toBe(0);
    // Had the cursor jumped to 5, offset 1 would never be pushed.
    const ack = await within(sender.send({ id: 'after-bad-commit', to: receiverEid, payload: 'one' }), 'Ack');
    expect(ack.code).toBe(Code.OK);
    const [entry] = await takeEntries(receiver, 1);
    expect(entry!.offset).toBe(1);
    // Committing the real head is fine.
    receiver.commit(1);
    await expectOpen(receiver);
    expect(receiver.errors).toHaveLength(1);
    let cursor = await h.store.getCursor(receiverEid, 'phone');
    const deadline = Date.now() + 2000;
    while (cursor !== 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      cursor = await h.store.getCursor(receiverEid, 'phone');
    }
    expect(cursor).toBe(1);
  });
});

describe('bad input - size and abuse limits', () => {
  it('bad input - a 2 MiB binary frame gets ErrorMessage 413 and then close 1009', async () => {
    const { client } = await connect(uniqueEid('huge'));
    const before = storedCounts(h.dataDir);
    client.sendRaw(seededBytes(99, 2 * 1024 * 1024));
    const closed = await within(client.closed, 'close after 2 MiB frame');
    expect(closed.code).toBe(CloseCode.TooBig);
    expect(client.errors.map((error) => error.code)).toEqual([Code.TooLarge]);
    expect(storedCounts(h.dataDir)).toEqual(before);
    await expectServerServes();
  });

  it('bad input - 19 bad frames leave the connection open, the 20th within 10 s closes it with 1008', async () => {
    const { client } = await connect(uniqueEid('abuse'));
    for (let i = 0; i < 19; i++) client.sendRaw(new Uint8Array([0xff, 0xff, 0xff]));
    await waitFor(() => client.errors.length === 19, '19 ErrorMessages');
    await expectOpen(client);
    client.sendRaw(new Uint8Array([0xff, 0xff, 0xff]));
    const closed = await within(client.closed, 'close 1008');
    expect(closed.code).toBe(CloseCode.PolicyViolation);
    expect(client.errors.every((error) => error.code === Code.BadRequest)).toBe(true);
    await expectServerServes();
  });
});

describe('bad input - upgrade refused', () => {
  const otherIssuer = new TokenIssuer('another-secret-0123456789abcdef');
  const key = new TextEncoder().encode(TEST_SECRET);
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  /** Refused with `status`, and no session exists for the token's (eid, 'phone'). */
  async function expectRefused(what: string, url: string, headers: Record<string, string>, status: number, eid: string): Promise<void> {
    const outcome = await attemptUpgrade(url, headers);
    expect(outcome, what).toMatchObject({ kind: 'refused', status });
    expect(h.server.hub.session(eid, 'phone'), `${what}: no session was created`).toBeUndefined();
  }

  it('bad input - upgrade with a missing, expired, forged or incomplete token gets HTTP 401 and no upgrade', async () => {
    const url = h.server.url;
    const eid = uniqueEid('auth');
    await expectRefused('no token', url, {}, 401, eid);
    await expectRefused('empty bearer', url, { authorization: 'Bearer ' }, 401, eid);
    await expectRefused('garbage token', url, bearer('not.a.jwt'), 401, eid);
    await expectRefused('garbage ?token=', `${url}?token=abc`, {}, 401, eid);
    const expired = await h.issuer.issueAccessToken({ eid, deviceId: 'phone', ttlSeconds: 60, now: Date.now() - 3_600_000 });
    await expectRefused('expired token', url, bearer(expired), 401, eid);
    await expectRefused('expired token in ?token=', `${url}?token=${expired}`, {}, 401, eid);
    const forged = await otherIssuer.issueAccessToken({ eid, deviceId: 'phone' });
    await expectRefused('token signed with another secret', url, bearer(forged), 401, eid);
    const sign = (claims: Record<string, unknown>, build: (jwt: SignJWT) => SignJWT = (jwt) => jwt): Promise<string> =>
      build(new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })).sign(key);
    const full = (jwt: SignJWT): SignJWT =>
      jwt
        .setJti(crypto.randomUUID())
        .setIssuedAt(nowSeconds())
        .setExpirationTime(nowSeconds() + 600);
    await expectRefused('no device_id', url, bearer(await sign({ eid }, full)), 401, eid);
    await expectRefused('empty device_id', url, bearer(await sign({ eid, device_id: '' }, full)), 401, eid);
    await expectRefused('no eid', url, bearer(await sign({ device_id: 'phone' }, full)), 401, eid);
    await expectRefused('no exp', url, bearer(await sign({ eid, device_id: 'phone' }, (jwt) => jwt.setJti('j-1').setIssuedAt(nowSeconds()))), 401, eid);
    await expectRefused(
      'no jti',
      url,
      bearer(await sign({ eid, device_id: 'phone' }, (jwt) => jwt.setIssuedAt(nowSeconds()).setExpirationTime(nowSeconds() + 600))),
      401,
      eid,
    );
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ eid, device_id: 'phone', jti: 'j-2', exp: nowSeconds() + 600 }),
    ).toString('base64url')}.`;
    await expectRefused('alg none', url, bearer(unsigned), 401, eid);

    // Control: the same user with a valid token is let in, by header and by ?token=.
    const valid = await h.token(eid, 'phone');
    expect(await attemptUpgrade(url, bearer(valid))).toEqual({ kind: 'opened' });
    expect(await attemptUpgrade(`${url}?token=${valid}`)).toEqual({ kind: 'opened' });
  });

  it('bad input - upgrade at a wrong path gets HTTP 404 and no upgrade', async () => {
    const eid = uniqueEid('path');
    const valid = await h.token(eid, 'phone');
    const base = `ws://127.0.0.1:${h.server.port}`;
    await expectRefused('path /', `${base}/`, bearer(valid), 404, eid);
    await expectRefused('path /ws', `${base}/ws`, bearer(valid), 404, eid);
    await expectRefused('path /bimip/extra', `${base}/bimip/extra`, bearer(valid), 404, eid);
    await expectServerServes();
  });
});

describe('bad input - device replacement', () => {
  it('bad input - a second connection of the same (eid, device) closes the first with 4009 and the new one works', async () => {
    const eid = uniqueEid('replace-a');
    const peerEid = uniqueEid('replace-b');
    const { client: peer } = await connect(peerEid);
    const { client: first } = await connect(eid, 'phone');
    const { client: second } = await connect(eid, 'phone');
    const closed = await within(first.closed, 'first connection closed');
    expect(closed.code).toBe(CloseCode.Replaced);
    await expect(first.send({ id: 'from-old', to: peerEid, payload: 'old' })).rejects.toBeInstanceOf(ConnectionClosedError);

    const ack = await within(second.send({ id: 'from-new', to: peerEid, payload: 'new' }), 'Ack on the new connection');
    expect(ack.code).toBe(Code.OK);
    const [atPeer] = await takeMessages(peer, 1);
    expect(text(atPeer!.message.payload)).toBe('new');
    // And the new connection receives what is sent to the user.
    const reply = await within(peer.send({ id: 'reply', to: eid, payload: 'back' }), 'Ack for reply');
    expect(reply.code).toBe(Code.OK);
    const [atNew] = await takeMessages(second, 1);
    expect(text(atNew!.message.payload)).toBe('back');
    expect(h.server.hub.session(eid, 'phone')).toBeDefined();
    await expectOpen(second);
  });
});

describe('bad input - aftermath', () => {
  it('bad input - after the whole matrix the server is healthy and a fresh pair still exchanges a message', async () => {
    const health = await fetch(`http://127.0.0.1:${h.server.port}/healthz`, { signal: AbortSignal.timeout(2000) });
    expect(health.status).toBe(200);
    await expectServerServes();
  });
});
