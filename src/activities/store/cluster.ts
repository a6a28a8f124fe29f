/**
 * The cluster store: every read and write goes to the apiserver, writes under Ramp's field manager,
 * each failure through the one Kubernetes error policy (kube-errors.ts). Each kind and verb is its
 * own call with its API group and resource written out, so the worker's RBAC can be read off this
 * file (test/unit/activities/rbac.test.ts) and grants nothing the code does not call.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { JsonPatchOp } from '../../domain/traffic/objects';
import { Failure } from '../../shared/failures';
import { kubeCall, kubeDelete, kubeGetOptional } from '../kube-errors';
import { FIELD_MANAGER, ObjectRef, ObjectStore } from './store';

interface Managed {
  metadata?: { managedFields?: unknown[] };
}

const jsonPatch = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

function unsupported(o: Pick<ObjectRef, 'kind'>, verb: string): never {
  throw ApplicationFailure.create({ message: `Ramp's cluster store does not ${verb} ${o.kind} objects (a bug: the caller asked for a kind it never writes)`, type: Failure.Invalid });
}

/**
 * `blameOf` words who last changed an object from its managedFields (the GitOps agent that
 * re-applied it, for example); the cluster store asks it when a router reports drift.
 */
export function createClusterStore(kube: k8s.KubeConfig, blameOf?: (o: ObjectRef, managedFields: unknown[]) => string | undefined): ObjectStore {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const apps = kube.makeApiClient(k8s.AppsV1Api);

  function read(o: ObjectRef): Promise<unknown> {
    const { namespace, name } = o;
    switch (o.kind) {
      case 'VirtualService': return custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'virtualservices', name });
      case 'DestinationRule': return custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'destinationrules', name });
      case 'Deployment': return apps.readNamespacedDeployment({ namespace, name });
      default: return unsupported(o, 'read');
    }
  }

  const get = <T>(o: ObjectRef) => kubeGetOptional(o.target, () => read(o) as Promise<T>);

  return {
    inGit: () => false,
    commits: [],
    get,
    async list<T>(o: Omit<ObjectRef, 'name'>): Promise<T[]> {
      if (o.kind !== 'DestinationRule') unsupported(o, 'list');
      const res = await kubeCall({ ...o.target, name: '(list)' }, 'list', () => custom.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: o.namespace, plural: 'destinationrules' }) as Promise<{ items: T[] }>);
      return res.items;
    },
    patch<T>(o: ObjectRef, ops: JsonPatchOp[]): Promise<T> {
      const { namespace, name } = o;
      const call = (): Promise<unknown> => {
        switch (o.kind) {
          case 'VirtualService': return custom.patchNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'virtualservices', name, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch());
          case 'DestinationRule': return custom.patchNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'destinationrules', name, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch());
          case 'Deployment': return apps.patchNamespacedDeployment({ namespace, name, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch());
          default: return unsupported(o, 'patch');
        }
      };
      return kubeCall(o.target, 'patch', call) as Promise<T>;
    },
    create<T>(o: ObjectRef, body: object): Promise<T> {
      const { namespace } = o;
      const call = (): Promise<unknown> => {
        switch (o.kind) {
          case 'DestinationRule': return custom.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'destinationrules', body, fieldManager: FIELD_MANAGER });
          case 'Deployment': return apps.createNamespacedDeployment({ namespace, body: body, fieldManager: FIELD_MANAGER });
          default: return unsupported(o, 'create');
        }
      };
      return kubeCall(o.target, 'create', call) as Promise<T>;
    },
    delete(o: ObjectRef, uid: string | undefined): Promise<'deleted' | 'absent'> {
      const { namespace, name } = o;
      const preconditions = uid ? { body: { preconditions: { uid } } } : {};
      if (o.kind !== 'DestinationRule') unsupported(o, 'delete');
      return kubeDelete(o.target, () => custom.deleteNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'destinationrules', name, ...preconditions }));
    },
    async blame(o: ObjectRef): Promise<string | undefined> {
      if (!blameOf) return undefined;
      const obj = await get<Managed>(o);
      return obj?.metadata?.managedFields ? blameOf(o, obj.metadata.managedFields) : undefined;
    },
  };
}
