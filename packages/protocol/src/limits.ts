/** Size limits of SPEC §2; every one is configurable. */
export interface ProtocolLimits {
  /** Largest accepted frame in bytes (default 1 MiB); larger → 413 and close 1009. */
  maxFrameBytes: number;
  /** payload + encrypted + signature of one Message (default 65,536 bytes). */
  maxContentBytes: number;
  /** Client ids (message id, device id, correlation ids): 1..maxIdBytes UTF-8 bytes (default 128). */
  maxIdBytes: number;
  /** eids: 1..maxEidBytes UTF-8 bytes (default 256). */
  maxEidBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxContentBytes: 65_536,
  maxIdBytes: 128,
  maxEidBytes: 256,
});

/** Sync REQUEST replays at most this many entries (SPEC §4 Sync.limit). */
export const MAX_SYNC_LIMIT = 1000;
