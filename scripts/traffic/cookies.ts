/**
 * A simulated client's cookie jar: what a browser keeps of the Set-Cookie headers it receives and
 * sends back, reduced to what sticky canary routing needs (name, value, Max-Age). Domain, Path,
 * Secure and Expires are ignored: every request of the generator goes to one host and path space.
 * Pure: time is an input.
 */

/** One cookie a Set-Cookie header sets. */
export interface SetCookie {
  name: string;
  value: string;
  /** Max-Age in seconds, when given; 0 or less deletes the cookie. */
  maxAge?: number;
}

/** Cookies by name, each with the time it expires (ms, same clock as `nowMs`), if any. */
export type CookieJar = Map<string, { value: string; expiresAtMs?: number }>;

/** The cookie a Set-Cookie value sets, or undefined when it has no `name=` (browsers ignore such headers). */
export function parseSetCookie(header: string): SetCookie | undefined {
  const [pair, ...attrs] = header.split(';');
  const eq = pair!.indexOf('=');
  if (eq <= 0) return undefined;
  const out: SetCookie = { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim() };
  if (out.name === '') return undefined;
  for (const a of attrs) {
    const [k, v] = a.split('=', 2).map((x) => x.trim());
    // RFC 6265: a Max-Age that is not an integer is ignored.
    if (k!.toLowerCase() === 'max-age' && v !== undefined && /^-?\d+$/.test(v)) out.maxAge = Number(v);
  }
  return out;
}

/** Stores a Set-Cookie in the jar at time `nowMs`: Max-Age 0 or less deletes the cookie, a positive one sets its expiry. */
export function applySetCookie(jar: CookieJar, header: string, nowMs: number): void {
  const c = parseSetCookie(header);
  if (c === undefined) return;
  if (c.maxAge !== undefined && c.maxAge <= 0) {
    jar.delete(c.name);
    return;
  }
  jar.set(c.name, c.maxAge === undefined ? { value: c.value } : { value: c.value, expiresAtMs: nowMs + c.maxAge * 1000 });
}

/** The cookies the jar sends at time `nowMs`, by name; expired ones are dropped from the jar. */
export function jarCookies(jar: CookieJar, nowMs: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, c] of jar) {
    if (c.expiresAtMs !== undefined && c.expiresAtMs <= nowMs) jar.delete(name);
    else out[name] = c.value;
  }
  return out;
}
