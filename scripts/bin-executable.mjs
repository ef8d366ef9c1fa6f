// The package's bin must be executable by itself: tsc writes dist/cli/main.js with mode 644, and npx
// sets the mode only when it first links a path, so `npx bimip serve` in a new clone at a path used
// before failed with "sh: 1: bimip: Permission denied" (issue #9).
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
