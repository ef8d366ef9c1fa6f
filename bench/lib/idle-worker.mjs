/**
 * Child process of W4: holds a share of the idle connections (SDK BimipConnection), so no single
 * process needs more file descriptors than `ulimit -n` allows. Driven over IPC by w4-idle.mjs:
 *   {type:'connect', url, tokens, concurrency} → {type:'connected', ok, failed, ms, firstError}
 *   {type:'status'}                          → {type:'status', open, closed, codes}
 *   {type:'close'}                           → {type:'closed', open} and exit
 * It exits by itself if the parent goes away or after `maxLifeMs`.
 */
import { BimipConnection } from '../../dist/client/index.js';

const maxLifeMs = Number(process.env.BENCH_WORKER_MAX_LIFE_MS ?? 300_000);
const lifeTimer = setTimeout(() => shutdown(3), maxLifeMs);
const clients = [];
const closeCodes = new Map();

async function connectAll(url, tokens, concurrency) {
  const start = performance.now();
  let ok = 0;
  let failed = 0;
  let firstError;
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const tok = tokens[next++];
      try {
        const client = await BimipConnection.connect({ url, token: tok, connectTimeoutMs: 30_000 });
        await Promise.race([client.caughtUp, new Promise((_, reject) => setTimeout(() => reject(new Error('no caught-up marker within 30 s')), 30_000))]);
        void client.closed.then(({ code }) => closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1));
        clients.push(client);
        ok++;
      } catch (err) {
        failed++;
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tokens.length) }, worker));
  return { ok, failed, ms: performance.now() - start, firstError };
}

async function closeAll() {
  await Promise.race([Promise.all(clients.map((c) => c.close())), new Promise((resolve) => setTimeout(resolve, 20_000))]);
  return clients.filter((c) => c.isOpen).length;
}

function shutdown(code) {
  clearTimeout(lifeTimer);
  process.exit(code);
}

process.on('disconnect', () => shutdown(0));
process.on('message', async (msg) => {
  if (msg.type === 'connect') {
    const result = await connectAll(msg.url, msg.tokens, msg.concurrency);
    process.send({ type: 'connected', ...result });
  } else if (msg.type === 'status') {
    process.send({
      type: 'status',
      open: clients.filter((c) => c.isOpen).length,
      closed: clients.filter((c) => !c.isOpen).length,
      codes: Object.fromEntries(closeCodes),
    });
  } else if (msg.type === 'close') {
    const stillOpen = await closeAll();
    process.send({ type: 'closed', open: stillOpen }, () => shutdown(0));
  }
});
process.send({ type: 'ready', pid: process.pid });
