/**
 * The SDK's browser bundle (packages/client/dist/browser/bimip-client.js, built by `npm run build`)
 * stays within its budget — 15 KB gzipped (issue #9) — carries neither protobufjs nor `long`, and
 * works: loaded as an ES module it encodes and decodes frames.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const BUDGET_GZIP_BYTES = 15 * 1024;
const bundlePath = fileURLToPath(new URL('../../packages/client/dist/browser/bimip-client.js', import.meta.url));
const metaPath = fileURLToPath(new URL('../../packages/client/dist/browser/meta.json', import.meta.url));

describe('SDK browser bundle', () => {
  it(`bundle - is at most ${BUDGET_GZIP_BYTES} bytes gzipped`, () => {
    const size = gzipSync(readFileSync(bundlePath), { level: 9 }).length;
    expect(size).toBeGreaterThan(1000);
    expect(size).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });

  it('bundle - carries no protobufjs, no long, nothing of the server', () => {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain('dist/client.js');
    expect(inputs).toContain('../protocol/dist/lite-codec.js');
    expect(inputs.filter((input) => /protobufjs|(^|\/)long\/|\/(server|store|cli)\/|protocol\/dist\/(codec|schema|validate)/.test(input))).toEqual([]);
  });

  it('bundle - loads as an ES module and round-trips a frame', async () => {
    const sdk = (await import(pathToFileURL(bundlePath).href)) as typeof import('@bimip/client');
    const bytes = sdk.encodeFrame('pingPong', { id: 'p1', type: sdk.PingType.PING, timestamp: 1_700_000_000_000 });
    expect(sdk.decodeFrame(bytes)).toMatchObject({ route: sdk.Route.PingPong, field: 'pingPong', value: { id: 'p1', timestamp: 1_700_000_000_000 } });
    expect(typeof sdk.BimipClient).toBe('function');
  });
});
