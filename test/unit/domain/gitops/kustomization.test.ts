import { addResource, KustomizationError, removeResource } from '../../../../src/domain/gitops/kustomization';

const F = 'overlays/prod/kustomization.yaml';

describe('kustomization resources: the canary file added and removed, every other byte kept', () => {
  it.each([
    ['block list', 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod # the namespace\nresources:\n  - ../../base\npatches:\n  - path: vs.yaml\n', 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod # the namespace\nresources:\n  - ../../base\n  - app-canary.yaml\npatches:\n  - path: vs.yaml\n'],
    ['unindented block list at the end, no final newline', 'resources:\n- ../../base', 'resources:\n- ../../base\n- app-canary.yaml\n'],
    ['flow list', 'resources: [../../base, extra.yaml] # keep\n', 'resources: [../../base, extra.yaml, app-canary.yaml] # keep\n'],
    ['empty flow list', 'resources: []\n', 'resources: [app-canary.yaml]\n'],
    ['no resources', 'kind: Kustomization\n', 'kind: Kustomization\nresources:\n- app-canary.yaml\n'],
    ['CRLF', 'resources:\r\n  - ../../base\r\n', 'resources:\r\n  - ../../base\r\n  - app-canary.yaml\r\n'],
  ])('%s: add, then remove restores the bytes', (_name, text, added) => {
    expect(addResource(F, text, 'app-canary.yaml')).toBe(added);
    expect(addResource(F, added, 'app-canary.yaml')).toBe(added);
    const removed = removeResource(F, added, 'app-canary.yaml');
    if (_name === 'no resources') expect(removed).toBe('kind: Kustomization\nresources:\n');
    else if (_name === 'unindented block list at the end, no final newline') expect(removed).toBe('resources:\n- ../../base\n');
    else expect(removed).toBe(text);
    expect(removeResource(F, text, 'absent.yaml')).toBe(text);
  });

  it.each([
    ['resources: a.yaml\n', /resources is not a list/],
    ['resources: [a\n', /is not valid YAML/],
  ])('%j is refused with a message naming the file', (text, message) => {
    expect(() => addResource(F, text, 'x.yaml')).toThrow(KustomizationError);
    expect(() => addResource(F, text, 'x.yaml')).toThrow(message);
  });
});
