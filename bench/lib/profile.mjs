/**
 * Summarizes V8 .cpuprofile files (from `node --cpu-prof`): self time per function and per area
 * (the server's own code, ws, protobufjs, SQLite, Node internals, GC, idle).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

function areaOf(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program (native, unattributed)';
  if (!url) return name.startsWith('(') ? name : 'native';
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (url.includes('/node_modules/protobufjs/') || url.includes('/protocol/generated/')) return 'protobuf';
  if (url.includes('/node_modules/better-sqlite3/')) return 'better-sqlite3';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client';
  if (url.includes('/node_modules/pino')) return 'pino';
  if (url.includes('/node_modules/jose/')) return 'jose';
  if (url.includes('/node_modules/')) return 'other deps';
  if (url.startsWith('node:')) return 'node internals';
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return `bimip ${
      url
        .slice(dist + 6)
        .split('/')
        .slice(0, -1)
        .join('/') || 'root'
    }`;
  return 'other';
}

export function summarizeProfile(path, top = 15) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url ? `${callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    total += us;
    if (name === '(idle)') idle += us;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const area = areaOf(callFrame.url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (map) =>
    [...map.entries()]
      .filter(([k]) => k !== '(idle)' && k !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ name: k, ms: us / 1000, pctOfBusy: (100 * us) / busy }));
  return { file: basename(path), totalMs: total / 1000, busyMs: busy / 1000, topFunctions: rank(fns), areas: rank(areas) };
}

export function formatProfile(summary) {
  const lines = [
    `${summary.file}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms sampled`,
    `  by area: ${summary.areas.map((a) => `${a.name} ${a.pctOfBusy.toFixed(1)}%`).join(', ')}`,
    '  top self time:',
    ...summary.topFunctions.map((f) => `    ${f.pctOfBusy.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`),
  ];
  return lines.join('\n');
}
