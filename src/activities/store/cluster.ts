/**
 * The cluster store: every read and write goes to the apiserver, writes under Ramp's field manager,
 * each failure through the one Kubernetes error policy (kube-errors.ts).
 */
import * as k8s from '@kubernetes/client-node';
import type { JsonPatchOp } from '../../domain/traffic/objects';
import { kubeCall, kubeDelete, kubeGetOptional } from '../kube-errors';
import { FIELD_MANAGER, ObjectRef, ObjectStore } from './store';

interface Managed {
  metadata?: { managedFields?: unknown[] };
}

/**
 * `blameOf` words who last changed an object from its managedFields (the GitOps agent that
 * re-applied it, for example); the cluster store asks it when a router reports drift.
 */
export function createClusterStore(kube: k8s.KubeConfig, blameOf?: (o: ObjectRef, managedFields: unknown[]) => string | undefined): ObjectStore {
  const custom = kube.makeApiClient(k8s.CustomObjectsApi);
  const api = (o: Omit<ObjectRef, 'name'>) => ({ group: o.group, version: o.version, plural: o.plural, namespace: o.namespace });

  const get = <T>(o: ObjectRef) => kubeGetOptional(o.target, () => custom.getNamespacedCustomObject({ ...api(o), name: o.name }) as Promise<T>);

  return {
    kind: 'cluster',
    get,
    async list<T>(o: Omit<ObjectRef, 'name'>): Promise<T[]> {
      const res = await kubeCall({ ...o.target, name: '(list)' }, 'list', () => custom.listNamespacedCustomObject(api(o)) as Promise<{ items: T[] }>);
      return res.items;
    },
    patch<T>(o: ObjectRef, ops: JsonPatchOp[]): Promise<T> {
      return kubeCall(o.target, 'patch', () => custom.patchNamespacedCustomObject(
        { ...api(o), name: o.name, body: ops, fieldManager: FIELD_MANAGER },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      ) as Promise<T>);
    },
    create<T>(o: ObjectRef, body: object): Promise<T> {
      return kubeCall(o.target, 'create', () => custom.createNamespacedCustomObject({ ...api(o), body, fieldManager: FIELD_MANAGER }) as Promise<T>);
    },
    delete(o: ObjectRef, uid: string | undefined): Promise<'deleted' | 'absent'> {
      return kubeDelete(o.target, () => custom.deleteNamespacedCustomObject({ ...api(o), name: o.name, ...(uid ? { body: { preconditions: { uid } } } : {}) }));
    },
    async blame(o: ObjectRef): Promise<string | undefined> {
      if (!blameOf) return undefined;
      const obj = await get<Managed>(o);
      return obj?.metadata?.managedFields ? blameOf(o, obj.metadata.managedFields) : undefined;
    },
  };
}
