/**
 * The spec of the routing features besides weights: the `setHeaderRoute` and `setMirror` steps and
 * `traffic.stickySession`. Both routers take them; what one provider's API cannot express is
 * refused here where the spec alone shows it, and by the router otherwise.
 */
import { z } from 'zod';
import type { RequestMatch, StringMatch } from '../rollout/calls';
import { duration, int, k8sName } from './fields';

/** An HTTP header or cookie name (RFC 9110 token). */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Why a regular expression would not compile as RE2 (what Istio's Envoy and Gateway API
 * implementations use), or undefined. JavaScript's engine checks the syntax; the constructs RE2
 * lacks (lookaround, backreferences) are refused by name.
 */
export function re2Problem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
  if (/\(\?<?[=!]/.test(source)) return 'uses lookaround ((?=, (?!, (?<=, (?<!), which RE2 does not support; match the value itself instead';
  if (/\\[1-9]/.test(source)) return 'uses a backreference (\\1 …), which RE2 does not support';
  return undefined;
}

const stringMatch = z.union([
  z.string(),
  z.strictObject({ exact: z.string().meta({ description: 'the whole value', examples: ['true'] }) }),
  z.strictObject({ prefix: z.string().min(1, 'must not be empty (an empty prefix matches everything: leave the condition out)').meta({ description: 'how the value starts', examples: ['beta-'] }) }),
  z.strictObject({
    regex: z.string().min(1, 'must not be empty').superRefine((v, ctx) => {
      const problem = re2Problem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; write an RE2 expression that matches the whole value, e.g. "beta-[0-9]+"` });
    }).meta({ description: 'an RE2 regular expression the whole value must match', examples: ['beta-[0-9]+'] }),
  }),
], { error: 'must be a string (exact match) or one of {exact: …}, {prefix: …}, {regex: …}' })
  .meta({ title: 'string match' })
  .transform((v): StringMatch => (typeof v === 'string' ? { exact: v } : v));

const requestCondition = z.looseObject({
  header: z.string().regex(TOKEN, 'must be an HTTP header name, such as "x-canary"').optional().meta({ description: 'a request header\'s name', examples: ['x-canary'] }),
  cookie: z.string().regex(TOKEN, 'must be a cookie name: letters, digits and !#$%&\'*+.^_`|~-').optional().meta({ description: 'a cookie\'s name', examples: ['beta'] }),
  query: z.string().min(1, 'must not be empty').optional().meta({ description: 'a query parameter\'s name', examples: ['canary'] }),
  value: stringMatch.meta({ description: 'how the header, cookie or query parameter must read: a string (exact), `{exact}`, `{prefix}` or `{regex}`', examples: [{ exact: 'true' }] }),
}, { error: 'must be an object with one of header, cookie, query, and a value' })
  .meta({ minProperties: 2, maxProperties: 2, additionalProperties: false })
  .superRefine((c, ctx) => {
    const unknown = Object.keys(c).filter((k) => !['header', 'cookie', 'query', 'value'].includes(k));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}: a condition has one of header, cookie, query, and a value` });
      return;
    }
    const kinds = (['header', 'cookie', 'query'] as const).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: 'custom', message: `a condition has exactly one of header, cookie, query; got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}` });
  })
  .transform((c): RequestMatch => {
    const value = c.value;
    if (c.header !== undefined) return { header: c.header, value };
    if (c.cookie !== undefined) return { cookie: c.cookie, value };
    return { query: c.query as string, value };
  });

/** The header a condition is tested on, lower-cased (cookies are all in the Cookie header), for duplicate checks. */
function headerOf(m: RequestMatch): string | undefined {
  if ('header' in m) return m.header.toLowerCase();
  if ('cookie' in m) return 'cookie';
  return undefined;
}

export const setHeaderRouteStep = z.strictObject({
  name: k8sName.meta({ description: 'the header route\'s name: a later step with the same name replaces it, and one without `match` removes it', examples: ['beta-testers'] }),
  match: z.array(requestCondition).optional().superRefine((list, ctx) => {
    if (list === undefined) return;
    if (list.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'give at least one condition (e.g. - header: x-canary, value: "true"), or leave match out to remove the header route' });
      return;
    }
    // A route tests each header once; two conditions on one header (or two cookies) cannot both be written.
    const seen = new Map<string, number>();
    list.forEach((m, i) => {
      const h = headerOf(m);
      if (h === undefined) return;
      if (seen.has(h)) {
        ctx.addIssue({ code: 'custom', path: [i], message: h === 'cookie' ? `conditions ${seen.get(h)} and ${i} both test the Cookie header (a cookie condition is a Cookie header match); keep one cookie condition, or express both in one regex` : `conditions ${seen.get(h)} and ${i} both test header "${h}"; keep one, with a regex if several values are fine` });
      } else seen.set(h, i);
    });
    const queries = list.flatMap((m) => ('query' in m ? [m.query] : []));
    const dup = queries.find((q, i) => queries.indexOf(q) !== i);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `two conditions test query parameter "${dup}"; keep one, with a regex if several values are fine` });
  }).meta({ description: 'the conditions a request must all meet to go to the canary whatever the weight; leave it out to remove the header route of that name', examples: [[{ header: 'x-canary', value: { exact: 'true' } }]] }),
}).meta({ description: 'sends requests that match to the canary whatever the weight (Argo\'s setHeaderRoute): its own route entry before each managed route, removed at promotion, on rollback, or by a later step of the same name without match', examples: [{ name: 'beta-testers', match: [{ header: 'x-canary', value: 'true' }] }] });

export const setMirrorStep = z.strictObject({
  percent: int(0, 100, 'a percentage').meta({ description: 'the share of the managed routes\' requests copied to the canary (responses discarded); 0 stops mirroring', examples: [20] }),
}).meta({ description: 'mirrors a share of live requests to the canary, whose responses are discarded: the analysis can judge it before it serves anyone', examples: [{ percent: 20 }] });

export const stickySession = z.strictObject({
  cookie: z.string().regex(TOKEN, 'must be a cookie name: letters, digits and !#$%&\'*+.^_`|~-').default('ramp-canary').meta({ description: 'the cookie canary responses set', examples: ['ramp-canary'] }),
  maxAge: duration.prefault('24h').meta({ description: 'how long a client stays on the canary (the cookie\'s Max-Age), in whole seconds', examples: ['24h'] }),
}).superRefine((s, ctx) => {
  if (s.maxAge < 1000 || s.maxAge % 1000 !== 0) ctx.addIssue({ code: 'custom', path: ['maxAge'], message: `must be whole seconds, at least 1s (a cookie's Max-Age), got ${s.maxAge}ms` });
}).transform((s) => ({ cookie: s.cookie, maxAgeSeconds: s.maxAge / 1000 }))
  .meta({ description: 'once a client got a canary response it keeps going to the canary until promotion or rollback: canary responses set a cookie, and a route entry sends requests carrying it to the canary', examples: [{ cookie: 'ramp-canary', maxAge: '24h' }] });

/** spec.traffic.stickySession, resolved. */
export interface StickySession {
  cookie: string;
  maxAgeSeconds: number;
}
