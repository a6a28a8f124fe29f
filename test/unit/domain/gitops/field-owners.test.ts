import * as fs from 'node:fs';
import * as path from 'node:path';
import { agentFight, agentFightInWords, ManagedFieldsEntry, ownerOf, ownsPath } from '../../../../src/domain/gitops/field-owners';

/** managedFields captured on the stack's real Flux (see each file's `producedBy`). */
function captured(file: string): ManagedFieldsEntry[] {
  const dir = path.join(__dirname, '../../../fixtures/gitops/managed-fields');
  return (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { managedFields: ManagedFieldsEntry[] }).managedFields;
}

const HTTP = ['spec', 'http'];

/** A hand-written entry, for the shapes the stack did not produce (other agents, other lists). */
const entry = (manager: string, time: string, fieldsV1: object, operation = 'Apply'): ManagedFieldsEntry => ({ manager, operation, time, fieldsType: 'FieldsV1', fieldsV1 });

describe('ownsPath', () => {
  it.each([
    ['the field itself, owned whole (atomic list)', { 'f:spec': { 'f:http': {} } }, HTTP, true],
    ['part of it (a list with keys)', { 'f:spec': { 'f:rules': { 'k:{"name":"main"}': { '.': {}, 'f:backendRefs': {} } } } }, ['spec', 'rules'], true],
    ['a path inside a field owned whole', { 'f:spec': { 'f:http': {} } }, ['spec', 'http', 'x'], true],
    ['a sibling only', { 'f:spec': { 'f:hosts': {} } }, HTTP, false],
    ['only labels', { 'f:metadata': { 'f:labels': {} } }, HTTP, false],
    ['an empty set owns nothing', {}, HTTP, false],
    ['no fieldsV1', undefined, HTTP, false],
    ['the empty path', { 'f:spec': {} }, [], false],
  ])('%s', (_name, fields, p, owns) => {
    expect(ownsPath(fields, p)).toBe(owns);
  });
});

describe('ownerOf', () => {
  it.each([
    ['applied by Flux', 'vs-1-applied-by-flux.json', { manager: 'kustomize-controller', operation: 'Apply', time: '2026-11-26T14:54:58Z' }],
    ["after Ramp's JSON patch", 'vs-2-patched-by-ramp.json', { manager: 'ramp', operation: 'Update', time: '2026-11-26T14:55:03Z' }],
    ['after Flux reverted it', 'vs-3-reverted-by-flux.json', { manager: 'kustomize-controller', operation: 'Apply', time: '2026-11-26T14:55:08Z' }],
    ['ssa: Merge: reverted all the same', 'vs-ssa-merge-reverted-by-flux.json', { manager: 'kustomize-controller', operation: 'Apply', time: '2026-11-26T14:55:08Z' }],
    ['ssa: IfNotPresent: Ramp keeps it', 'vs-ssa-ifnotpresent-kept-by-flux.json', { manager: 'ramp', operation: 'Update', time: '2026-11-26T14:55:03Z' }],
    ['ssa: Ignore: Ramp keeps it', 'vs-ssa-ignore-kept-by-flux.json', { manager: 'ramp', operation: 'Update', time: '2026-11-26T14:55:03Z' }],
    ['reconcile: disabled: Ramp keeps it', 'vs-reconcile-disabled-kept-by-flux.json', { manager: 'ramp', operation: 'Update', time: '2026-11-26T14:55:03Z' }],
  ])('spec.http of the VirtualService %s (captured)', (_name, file, owner) => {
    expect(ownerOf(captured(file), HTTP)).toEqual(owner);
  });

  it.each([
    ['several owners: the latest time', [entry('a', '2026-01-01T00:00:02Z', { 'f:spec': { 'f:subsets': {} } }), entry('b', '2026-01-01T00:00:01Z', { 'f:spec': { 'f:subsets': {} } })], 'a'],
    ['a tie: the later entry', [entry('a', '2026-01-01T00:00:01Z', { 'f:spec': { 'f:subsets': {} } }), entry('b', '2026-01-01T00:00:01Z', { 'f:spec': { 'f:subsets': {} } })], 'b'],
    ['an entry without a time ranks last', [entry('timed', '2026-01-01T00:00:01Z', { 'f:spec': { 'f:subsets': {} } }), { manager: 'untimed', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:subsets': {} } } }], 'timed'],
    ['a newer entry for another field does not count', [entry('a', '2026-01-01T00:00:01Z', { 'f:spec': { 'f:subsets': {} } }), entry('b', '2026-01-01T00:00:09Z', { 'f:spec': { 'f:host': {} } })], 'a'],
  ])('%s', (_name, fields, manager) => {
    expect(ownerOf(fields, ['spec', 'subsets'])?.manager).toBe(manager);
  });

  it('accepts the Date the Kubernetes client parses time into', () => {
    const when = new Date('2026-01-01T00:00:01Z');
    expect(ownerOf([{ ...entry('a', '', { 'f:spec': { 'f:http': {} } }), time: when }], HTTP)?.time).toBe(when.toISOString());
  });

  it.each([[undefined], [[]]])('nobody: undefined (%p)', (fields) => {
    expect(ownerOf(fields, HTTP)).toBeUndefined();
  });
});

describe('agentFight', () => {
  it('names kustomize-controller once Flux reverted Ramp (captured)', () => {
    expect(agentFight(captured('vs-3-reverted-by-flux.json'), HTTP)).toEqual({
      manager: 'kustomize-controller',
      operation: 'Apply',
      time: '2026-11-26T14:55:08Z',
      product: 'Flux',
      anchor: 'flux',
      path: HTTP,
    });
  });

  it.each([
    ["Ramp's write stands", 'vs-2-patched-by-ramp.json'],
    ['IfNotPresent kept it', 'vs-ssa-ifnotpresent-kept-by-flux.json'],
    ['Ignore kept it', 'vs-ssa-ignore-kept-by-flux.json'],
    ['reconcile disabled kept it', 'vs-reconcile-disabled-kept-by-flux.json'],
  ])('none when %s (captured)', (_name, file) => {
    expect(agentFight(captured(file), HTTP)).toBeUndefined();
  });

  const http = { 'f:spec': { 'f:http': {} } };
  it.each([
    ['Argo CD server-side apply', [entry('argocd-controller', '2026-01-01T00:00:05Z', http)], 'argocd-controller', 'Argo CD'],
    ['Argo CD client-side apply (an Update)', [entry('argocd-controller', '2026-01-01T00:00:05Z', http, 'Update')], 'argocd-controller', 'Argo CD'],
    ['Flux helm-controller', [entry('helm-controller', '2026-01-01T00:00:05Z', http)], 'helm-controller', 'Flux'],
    ['argocd-application-controller', [entry('argocd-application-controller', '2026-01-01T00:00:05Z', http)], 'argocd-application-controller', 'Argo CD'],
    ['argocd-server', [entry('argocd-server', '2026-01-01T00:00:05Z', http)], 'argocd-server', 'Argo CD'],
  ])('%s', (_name, fields, manager, product) => {
    expect(agentFight(fields, HTTP)).toMatchObject({ manager, product });
  });

  it.each([
    ['a person with kubectl: plain drift', [entry('kubectl-patch', '2026-01-01T00:00:05Z', http, 'Update')]],
    ['Ramp still co-owns it (both applied the same value)', [entry('kustomize-controller', '2026-01-01T00:00:05Z', http), entry('ramp', '2026-01-01T00:00:01Z', http)]],
    ['a manager merely named like an agent', [entry('kustomize-controller-fork', '2026-01-01T00:00:05Z', http)]],
    ['an agent owning another field only', [entry('kustomize-controller', '2026-01-01T00:00:05Z', { 'f:spec': { 'f:hosts': {} } })]],
    ['nobody', []],
  ])('none: %s', (_name, fields) => {
    expect(agentFight(fields, HTTP)).toBeUndefined();
  });

  it('asks for the manager Ramp writes under', () => {
    const fields = [entry('kustomize-controller', '2026-01-01T00:00:05Z', http), entry('ramp-test', '2026-01-01T00:00:01Z', http)];
    expect(agentFight(fields, HTTP)).toBeDefined();
    expect(agentFight(fields, HTTP, 'ramp-test')).toBeUndefined();
  });

  it('reads an HTTPRoute rules list and a DestinationRule subsets list', () => {
    expect(agentFight([entry('kustomize-controller', '2026-01-01T00:00:05Z', { 'f:spec': { 'f:rules': {} } })], ['spec', 'rules'])?.path).toEqual(['spec', 'rules']);
    expect(agentFight([entry('argocd-controller', '2026-01-01T00:00:05Z', { 'f:spec': { 'f:subsets': {} } })], ['spec', 'subsets'])?.product).toBe('Argo CD');
  });
});

describe('agentFightInWords', () => {
  const reviews = { kind: 'VirtualService', namespace: 'bookinfo', name: 'reviews' };
  const flux = agentFight(captured('vs-3-reverted-by-flux.json'), HTTP)!;

  it('names the object, the field, the agent, when, and the Flux setting', () => {
    expect(agentFightInWords(flux, reviews, 'docs/gitops.md')).toBe(
      "VirtualService bookinfo/reviews spec.http: the GitOps agent kustomize-controller (Flux) re-applied it at 2026-11-26T14:55:08Z, undoing Ramp's weights; " +
        "tell the agent to leave Ramp's fields alone (docs/gitops.md#flux: annotate the object in git kustomize.toolkit.fluxcd.io/ssa: IfNotPresent), then resume the rollout",
    );
  });

  it('gives Argo CD its own setting, with the manager Ramp writes under', () => {
    const argo = agentFight([entry('argocd-controller', '2026-01-01T00:00:05Z', { 'f:spec': { 'f:subsets': {} } })], ['spec', 'subsets'], 'ramp-prod')!;
    const words = agentFightInWords(argo, { kind: 'DestinationRule', namespace: 'shop', name: 'cart' }, 'https://ramp.example/docs/gitops', 'ramp-prod');
    expect(words).toContain('DestinationRule shop/cart spec.subsets: the GitOps agent argocd-controller (Argo CD)');
    expect(words).toContain("undoing Ramp's subsets");
    expect(words).toContain('https://ramp.example/docs/gitops#argo-cd: give the Application ignoreDifferences with managedFieldsManagers: [ramp-prod] and the sync option RespectIgnoreDifferences=true');
  });

  it('keeps a link that already names its section', () => {
    expect(agentFightInWords(flux, reviews, 'docs/gitops.md#flux')).toContain('(docs/gitops.md#flux: ');
  });

  it('leaves the time out when the entry has none', () => {
    expect(agentFightInWords({ ...flux, time: '' }, reviews)).toContain('(Flux) re-applied it, undoing');
  });
});
