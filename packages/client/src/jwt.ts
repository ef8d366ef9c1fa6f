/** Reads JWT claims without verifying them: the client only needs to know when to renew and which device it is. */
function claims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))) as unknown;
    return typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The token's `exp` in epoch ms, if it has one. */
export function tokenExpiryMs(token: string): number | undefined {
  const exp = claims(token)?.['exp'];
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

/** A string claim of the token (e.g. `device_id`, SPEC §2), if present. */
export function tokenClaim(token: string, name: string): string | undefined {
  const value = claims(token)?.[name];
  return typeof value === 'string' ? value : undefined;
}
