/**
 * Cluster mode against the stack's real Flux (kustomize-controller v1.9.6): Ramp writes weights to a
 * VirtualService that Flux applies from git. Without settings, Flux reverts Ramp's JSON patch on its
 * next reconcile and the managedFields name it, which is what Ramp's drift path reads
 * (agentFight). With `kustomize.toolkit.fluxcd.io/ssa: IfNotPresent` on the object in git, the
 * weights Ramp wrote stay while Flux keeps applying new commits (docs/gitops.md#flux).
 */
import * as k8s from '@kubernetes/client-node';
import { agentFight, agentFightInWords, ManagedFieldsEntry } from '../../../src/domain/gitops/field-owners';
import { branchHead, cloneAsPerson, commitAndPush, createRepo, removeTempDirs, TestRepo } from '../../support/git';
import { createFluxObject, gitCredentialsSecret, gitRepository, gitRevision, kustomization, waitForAppliedRevision } from '../../support/flux';
import { adminKubeConfig, eventually, sleep, stackInfo, uniqueName } from '../../support/stack';

/** Short on purpose, as in the smoke test: Flux enforces no minimum. */
const INTERVAL_S = 5;
const VS = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' } as const;
const HTTP = ['spec', 'http'];

const virtualService = (namespace: string, name: string, annotations: Record<string, string> = {}) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${namespace}
  annotations: ${JSON.stringify(annotations)}
spec:
  hosts: [reviews]
  http:
    - name: primary
      route:
        - destination: {host: reviews, subset: stable}
          weight: 100
        - destination: {host: reviews, subset: canary}
          weight: 0
`;

const configMap = (namespace: string, value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  namespace: ${namespace}
data:
  value: "${value}"
`;

interface LiveVirtualService {
  metadata: { managedFields?: ManagedFieldsEntry[] };
  spec: { http: { route: { weight?: number }[] }[] };
}

const report = (line: string) => process.stderr.write(`[gitops] ${line}\n`);

describe('GitOps agent settings on the real Flux: does kustomize-controller leave Ramp\'s weights alone?', () => {
  const info = stackInfo();
  const kc = adminKubeConfig(info);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = uniqueName('gitops-agent');
  let repo: TestRepo;
  let clone: string;

  beforeAll(async () => {
    if (!info.flux) throw new Error(`${info.stateDir}/stack.json names no Flux: bring the stack up with this checkout (npm run stack -- up)`);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    repo = await createRepo('gitops-agent', {
      'deploy/plain.yaml': virtualService(namespace, 'plain'),
      'deploy/ifnotpresent.yaml': virtualService(namespace, 'ifnotpresent', { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' }),
      'deploy/other.yaml': configMap(namespace, '1'),
    });
    clone = await cloneAsPerson(repo);
    await core.createNamespacedSecret({ namespace, body: gitCredentialsSecret('git-credentials', repo) });
    await createFluxObject(kc, gitRepository(namespace, 'app', repo, { secretName: 'git-credentials', interval: `${INTERVAL_S}s` }));
    await createFluxObject(kc, kustomization(namespace, 'app', { source: 'app', path: './deploy', interval: `${INTERVAL_S}s`, prune: true }));
    await waitForAppliedRevision(kc, namespace, 'app', gitRevision(repo.branch, await branchHead(repo)));
  });
  afterAll(async () => {
    removeTempDirs();
    await core.deleteNamespace({ name: namespace });
  });

  const read = async (name: string) => (await custom.getNamespacedCustomObject({ ...VS, namespace, name })) as LiveVirtualService;
  const weights = (vs: LiveVirtualService) => (vs.spec.http[0]?.route ?? []).map((r) => r.weight ?? 0);

  /** What Ramp's Istio router sends: a guarded JSON patch of the weights under field manager `ramp`. */
  const patchWeights = (name: string, canary: number) =>
    custom.patchNamespacedCustomObject(
      {
        ...VS,
        namespace,
        name,
        fieldManager: 'ramp',
        body: [
          { op: 'test', path: '/spec/http/0/route/0/weight', value: 100 },
          { op: 'replace', path: '/spec/http/0/route/0/weight', value: 100 - canary },
          { op: 'replace', path: '/spec/http/0/route/1/weight', value: canary },
        ],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );

  it('(a) without settings: Flux reverts the weights Ramp patched, and agentFight names kustomize-controller', async () => {
    await patchWeights('plain', 20);
    const patched = await read('plain');
    expect(weights(patched)).toEqual([80, 20]);
    // Ramp's write holds the field until the agent's next apply.
    expect(agentFight(patched.metadata.managedFields, HTTP)).toBeUndefined();

    const t0 = Date.now();
    const reverted = await eventually('kustomize-controller to revert the weights', async () => {
      const vs = await read('plain');
      return weights(vs)[1] === 0 ? vs : undefined;
    }, 4 * INTERVAL_S * 1000, 100);
    report(`patch → reverted by Flux: ${((Date.now() - t0) / 1000).toFixed(1)} s (interval ${INTERVAL_S}s)`);
    expect(weights(reverted)).toEqual([100, 0]);

    const fight = agentFight(reverted.metadata.managedFields, HTTP);
    expect(fight).toMatchObject({ manager: 'kustomize-controller', operation: 'Apply', product: 'Flux' });
    report(`pause message: ${agentFightInWords(fight!, { kind: 'VirtualService', namespace, name: 'plain' })}`);
  });

  it('(b) with kustomize.toolkit.fluxcd.io/ssa: IfNotPresent in git: the weights stay while Flux applies new commits', async () => {
    await patchWeights('ifnotpresent', 20);
    const t0 = Date.now();
    // Three intervals at least, and a new commit applied after them: Flux reconciled the object's
    // Kustomization again (the revision moved on) and still left the weights alone.
    await sleep(3 * INTERVAL_S * 1000);
    const sha = await commitAndPush(repo, clone, { 'deploy/other.yaml': configMap(namespace, '2') }, 'Change another file');
    await waitForAppliedRevision(kc, namespace, 'app', gitRevision(repo.branch, sha));
    const other = await core.readNamespacedConfigMap({ namespace, name: 'other' });
    expect(other.data?.value).toBe('2');

    const vs = await read('ifnotpresent');
    report(`IfNotPresent: weights ${JSON.stringify(weights(vs))} ${((Date.now() - t0) / 1000).toFixed(1)} s after the patch, revision ${sha.slice(0, 7)} applied`);
    expect(weights(vs)).toEqual([80, 20]);
    expect(agentFight(vs.metadata.managedFields, HTTP)).toBeUndefined();
    expect(vs.metadata.managedFields?.find((f) => f.manager === 'ramp')?.operation).toBe('Update');
  });
});
