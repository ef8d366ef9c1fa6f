/**
 * The path and query of an HTTP request target, parsed without throwing (issue #7 item 1: a target
 * such as `//[` made `new URL` throw outside any `try` and killed the process). Only origin-form
 * targets (`/path?query`) are served; anything else is `undefined` and gets a 400.
 */
export interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

export function parseRequestTarget(raw: string | undefined): RequestTarget | undefined {
  // `//x` would be read as a host by URL; a target must be a path that starts with one slash.
  if (raw === undefined || !raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    const url = new URL(raw, 'http://localhost');
    return { pathname: url.pathname, query: url.searchParams };
  } catch {
    return undefined;
  }
}
