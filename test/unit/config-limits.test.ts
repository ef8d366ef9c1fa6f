/** Issue #7: the per-user limits are configured by environment variable, validated at start. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/cli/config.js';

describe('config - per-user limits', () => {
  it('config - defaults are 16 devices, 10,000 blocks, 5,000 contacts per user; 0 means unlimited', () => {
    expect(loadConfig({})).toMatchObject({ maxDevicesPerUser: 16, maxBlocksPerUser: 10_000, maxContactsPerUser: 5_000 });
    const off = loadConfig({ BIMIP_MAX_DEVICES_PER_USER: '0', BIMIP_MAX_BLOCKS_PER_USER: '0', BIMIP_MAX_CONTACTS_PER_USER: '0' });
    expect(off).toMatchObject({ maxDevicesPerUser: 0, maxBlocksPerUser: 0, maxContactsPerUser: 0 });
  });

  it('config - a bad limit is a ConfigError naming the variable', () => {
    for (const name of ['BIMIP_MAX_DEVICES_PER_USER', 'BIMIP_MAX_BLOCKS_PER_USER', 'BIMIP_MAX_CONTACTS_PER_USER']) {
      expect(() => loadConfig({ [name]: 'lots' })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: '-1' })).toThrow(name);
    }
    expect(() => loadConfig({ BIMIP_MAX_DEVICES_PER_USER: '20000' })).toThrow('BIMIP_MAX_DEVICES_PER_USER');
  });
});
