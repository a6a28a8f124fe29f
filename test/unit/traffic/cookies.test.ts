import { applySetCookie, jarCookies, parseSetCookie, type CookieJar } from '../../../scripts/traffic/cookies';

describe('parseSetCookie', () => {
  const table: { header: string; want: unknown }[] = [
    { header: 'c=v', want: { name: 'c', value: 'v' } },
    { header: 'c=v; Max-Age=60; Path=/', want: { name: 'c', value: 'v', maxAge: 60 } },
    { header: 'c=v; max-age=0', want: { name: 'c', value: 'v', maxAge: 0 } },
    { header: 'c=; Max-Age=-1', want: { name: 'c', value: '', maxAge: -1 } },
    { header: 'c=a=b; Max-Age=soon', want: { name: 'c', value: 'a=b' } },
    { header: 'novalue', want: undefined },
    { header: '=v', want: undefined },
  ];
  it.each(table)('$header', ({ header, want }) => {
    expect(parseSetCookie(header)).toEqual(want);
  });
});

describe('a cookie jar', () => {
  it('keeps, replaces and deletes cookies (Max-Age 0), and drops them once expired', () => {
    const jar: CookieJar = new Map();
    applySetCookie(jar, 'canary=yes; Max-Age=10; Path=/', 1_000);
    applySetCookie(jar, 'session=1', 1_000);
    expect(jarCookies(jar, 2_000)).toEqual({ canary: 'yes', session: '1' });
    applySetCookie(jar, 'session=2', 2_000);
    expect(jarCookies(jar, 2_000)).toEqual({ canary: 'yes', session: '2' });
    // Max-Age counts from when the cookie was set: 10 s after 1 s.
    expect(jarCookies(jar, 11_000)).toEqual({ session: '2' });
    applySetCookie(jar, 'session=x; Max-Age=0', 12_000);
    expect(jarCookies(jar, 12_000)).toEqual({});
    applySetCookie(jar, 'broken', 12_000);
    expect(jar.size).toBe(0);
  });
});
