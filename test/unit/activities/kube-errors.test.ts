/**
 * The one Kubernetes error policy (src/activities/kube-errors.ts, docs/decisions/0012): every
 * status × verb a call can meet, the failure type it becomes, and whether each retry budget retries it.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { classifyKubeError, kubeDelete, kubeFailure, kubeGetOptional, target, Verb } from '../../../src/activities/kube-errors';
import { Failure, FORWARD_NON_RETRYABLE, UNDO_NON_RETRYABLE } from '../../../src/shared/failures';

const VERBS: Verb[] = ['get', 'list', 'create', 'update', 'patch', 'delete'];
const t = target('VirtualService', 'shop', 'web', 'spec.traffic.virtualService.name');

// [status, causes, verb or '*', type]
const TABLE: [number | 'network', boolean, Verb | '*', Failure][] = [
  [401, false, '*', Failure.Unauthorized],
  [403, false, '*', Failure.Forbidden],
  [404, false, '*', Failure.NotFound],
  [409, false, '*', Failure.Conflict],
  // A JSON Patch `test` that failed: the object changed since it was read.
  [422, false, 'patch', Failure.Conflict],
  [422, false, 'create', Failure.Invalid],
  [422, false, 'update', Failure.Invalid],
  [422, true, '*', Failure.Invalid],
  [400, false, '*', Failure.Invalid],
  [408, false, '*', Failure.Unavailable],
  [429, false, '*', Failure.Unavailable],
  [500, false, '*', Failure.Unavailable],
  [502, false, '*', Failure.Unavailable],
  [503, false, '*', Failure.Unavailable],
  [504, false, '*', Failure.Unavailable],
  ['network', false, '*', Failure.Unavailable],
];

const rows = TABLE.flatMap(([status, causes, verb, type]) => (verb === '*' ? VERBS : [verb]).map((v) => [status, causes, v, type] as const));

describe('classifyKubeError: status × verb → failure type', () => {
  it.each(rows)('HTTP %s (causes: %s) on %s → %s', (status, causes, verb, type) => {
    expect(classifyKubeError({ status, verb, causes }, t).type).toBe(type);
  });
});

describe('retry budgets', () => {
  // [type, retried on the forward path, retried while rolling back]
  const budgets: [Failure, boolean, boolean][] = [
    [Failure.Unauthorized, false, true],
    [Failure.Forbidden, false, true],
    [Failure.NotFound, false, false],
    [Failure.Conflict, true, true],
    [Failure.Invalid, false, false],
    [Failure.Unavailable, true, true],
  ];
  it.each(budgets)('%s: forward retries %s, undo retries %s', (type, forward, undo) => {
    expect(!FORWARD_NON_RETRYABLE.includes(type)).toBe(forward);
    expect(!UNDO_NON_RETRYABLE.includes(type)).toBe(undo);
  });
});

const apiError = (code: number, body: unknown) => new k8s.ApiException(code, `HTTP-Code: ${code}`, JSON.stringify(body), {});
// The two 404 bodies kube-apiserver gives: an object that does not exist names it in details; a
// path it does not serve (a CRD's type before its informer syncs after a restart) has empty details.
const OBJECT_NOT_FOUND = { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'virtualservices.networking.istio.io "web" not found', details: { name: 'web', group: 'networking.istio.io', kind: 'virtualservices' } };
const TYPE_NOT_SERVED = { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource', details: {} };

describe('kubeFailure: messages name the verb, the object, the answer and the fix', () => {

  it('403 names the RBAC verb, resource and namespace to grant', () => {
    const f = kubeFailure(apiError(403, { reason: 'Forbidden', message: 'virtualservices.networking.istio.io "web" is forbidden' }), t, 'patch');
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(Failure.Forbidden);
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toBe('patch VirtualService shop/web failed: HTTP 403 Forbidden: virtualservices.networking.istio.io "web" is forbidden — grant the worker\'s identity "patch" on virtualservices.networking.istio.io in namespace shop (deploy/rbac.yaml)');
  });

  it('404 names the spec field that names the object', () => {
    const f = kubeFailure(apiError(404, OBJECT_NOT_FOUND), t, 'get');
    expect(f.type).toBe(Failure.NotFound);
    expect(f.message)
      .toMatch(/^get VirtualService shop\/web failed: HTTP 404 NotFound: virtualservices.networking.istio.io "web" not found — create it, or set spec.traffic.virtualService.name to an existing VirtualService$/);
  });

  it('a 404 for a type the apiserver does not serve right now (restarting, CRDs not yet synced) is Unavailable, not an absent object', () => {
    const f = kubeFailure(apiError(404, TYPE_NOT_SERVED), t, 'get');
    expect(f.type).toBe(Failure.Unavailable);
    expect(f.message).toMatch(/does not serve virtualservices.networking.istio.io right now/);
  });

  it('a failed JSON-Patch test (422, no causes) says the object changed and is retried', () => {
    const f = kubeFailure(apiError(422, { reason: 'Invalid', message: 'the server rejected our request due to an error in our request' }), t, 'patch');
    expect(f.type).toBe(Failure.Conflict);
    expect(f.message).toMatch(/changed between read and write .* the retry reads it again$/);
  });

  it('a schema violation (422 with causes) is Invalid', () => {
    const f = kubeFailure(apiError(422, { reason: 'Invalid', message: 'spec.http[0].route[0].weight: Invalid value', details: { causes: [{ field: 'spec.http[0].route[0].weight' }] } }), t, 'patch');
    expect(f.type).toBe(Failure.Invalid);
  });

  it('no answer at all (connection refused) is Unavailable and keeps the cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:16443'), { code: 'ECONNREFUSED' });
    const f = kubeFailure(refused, t, 'get');
    expect(f.type).toBe(Failure.Unavailable);
    expect(f.message).toBe('get VirtualService shop/web failed: connect ECONNREFUSED 127.0.0.1:16443');
    expect(f.cause).toBe(refused);
  });

  it('a body that is not a Status object is quoted as it came', () => {
    expect(kubeFailure(new k8s.ApiException(502, 'bad gateway', '<html>bad gateway</html>', {}), t, 'get').message).toBe('get VirtualService shop/web failed: HTTP 502: <html>bad gateway</html>');
  });
});

describe('absent objects: only a 404 that names the object counts as absent', () => {
  it('kubeGetOptional: an object 404 is undefined; a type-not-served 404 is an Unavailable failure', async () => {
    await expect(kubeGetOptional(t, () => Promise.reject(apiError(404, OBJECT_NOT_FOUND)))).resolves.toBeUndefined();
    await expect(kubeGetOptional(t, () => Promise.reject(apiError(404, TYPE_NOT_SERVED)))).rejects.toMatchObject({ type: Failure.Unavailable });
  });

  it('kubeDelete: an object 404 is absent; a type-not-served 404 is an Unavailable failure, never "absent"', async () => {
    await expect(kubeDelete(t, () => Promise.reject(apiError(404, OBJECT_NOT_FOUND)))).resolves.toBe('absent');
    await expect(kubeDelete(t, () => Promise.reject(apiError(404, TYPE_NOT_SERVED)))).rejects.toMatchObject({ type: Failure.Unavailable });
  });
});
