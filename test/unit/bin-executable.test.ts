/** README's first command runs `npx bimip serve`: the built bin must be executable by itself (issue #9). */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('cli - the built bin', () => {
  it('cli - dist/cli/main.js is executable after `npm run build`', () => {
    const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
    expect(() => accessSync(bin, constants.X_OK)).not.toThrow();
  });
});
