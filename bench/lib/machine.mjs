/**
 * Machine facts and background-load accounting. The cores here are shared: other processes (for
 * example a test suite) may run during a benchmark, so each run records how much CPU was used by
 * processes other than the bench and its children (the server, W4's client processes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machineInfo() {
  const cpus = os.cpus();
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    /* not a git checkout */
  }
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    ramGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    commit,
    srcDirty: dirty,
  };
}

const CLK_TCK = 100;

/** Busy and total jiffies of the whole machine (/proc/stat first line). */
function systemTimes() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  return { busy: user + nice + system + irq + softirq + steal, total: fields.reduce((a, b) => a + b, 0), idle: idle + iowait };
}

/** CPU seconds of this process plus its reaped children (the server, W4 workers). */
function ownCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime 11, stime 12, cutime 13, cstime 14 (0-based after the comm field)
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** Starts a background-load meter; `stop()` returns { otherCores, wallSeconds }. */
export function loadMeter() {
  const sys0 = systemTimes();
  const own0 = ownCpuSeconds();
  const t0 = performance.now();
  return {
    stop() {
      const sys1 = systemTimes();
      const own1 = ownCpuSeconds();
      const wallSeconds = (performance.now() - t0) / 1000;
      const busySeconds = (sys1.busy - sys0.busy) / CLK_TCK;
      return { otherCores: Math.max(0, (busySeconds - (own1 - own0)) / wallSeconds), wallSeconds };
    },
  };
}

/** CPU used by everything on the machine over `ms` (cores). */
export async function machineBusyCores(ms = 1000) {
  const a = systemTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = systemTimes();
  return (b.busy - a.busy) / CLK_TCK / (ms / 1000);
}

/**
 * Waits (bounded) until the machine is quiet: under `maxBusyCores` used by anyone over 1 s.
 * Returns the last reading and how long it waited.
 */
export async function waitForQuiet({ maxBusyCores = 0.3, maxWaitMs = 60_000 } = {}) {
  const start = performance.now();
  let busy = await machineBusyCores(1000);
  while (busy > maxBusyCores && performance.now() - start < maxWaitMs) busy = await machineBusyCores(1000);
  return { busyCores: busy, waitedMs: performance.now() - start };
}
