/**
 * Bench-only preload (W4): with --expose-gc, SIGUSR2 runs a full garbage collection in the server,
 * so RSS is sampled on the heap an idle server settles to (V8's memory reducer gets there by itself
 * after some seconds of low allocation) instead of on whatever garbage the last connects left.
 */
if (typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => globalThis.gc());
}
