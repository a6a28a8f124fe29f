/**
 * Who owns a field Ramp writes, read from the object's `metadata.managedFields`, and whether that
 * owner is a GitOps agent undoing Ramp's writes ("cluster mode": the agent applies the repository,
 * Ramp writes runtime state to the cluster).
 *
 * The signature on the stack's real Flux (fixtures in test/fixtures/gitops/managed-fields): after
 * Ramp's JSON patch, `ramp`/Update owns `f:spec.f:http`; after kustomize-controller's next
 * reconcile, `kustomize-controller`/Apply owns it again and Ramp's entry is gone (server-side apply
 * with force takes the field back). Istio's CRDs declare no list type for `http` or `subsets`, so
 * those lists are atomic: one manager owns the whole list, never single routes.
 */

/** The parts of a Kubernetes ManagedFieldsEntry this module reads. */
export interface ManagedFieldsEntry {
  manager?: string;
  /** `Apply` (server-side apply) or `Update` (create, update, patch). */
  operation?: string;
  /** RFC 3339, to the second, as the apiserver writes it; absent on some old entries. */
  time?: string | Date;
  fieldsType?: string;
  fieldsV1?: object;
  /** `status` or `scale` for writes through a subresource. */
  subresource?: string;
}

/** The manager that last wrote a field. */
export interface FieldOwner {
  manager: string;
  operation: string;
  /** RFC 3339 (the entry's time); empty when the entry has none. */
  time: string;
}

/** The GitOps agents Ramp recognises by field manager, and where their fix is documented. */
export const GITOPS_AGENTS = {
  // Seen on the stack's kustomize-controller v1.9.6 (decision 0029, the fixtures above).
  'kustomize-controller': { product: 'Flux', anchor: 'flux' },
  // Flux's HelmRelease controller. Not verified: the stack runs no helm-controller.
  'helm-controller': { product: 'Flux', anchor: 'flux' },
  // Verified in Argo CD's source: common.ArgoCDSSAManager = "argocd-controller", passed to every
  // sync (sync.WithServerSideApplyManager), and gitops-engine's newApplyOptions sets it as kubectl's
  // FieldManager for client-side apply too (operation Update) and server-side apply (Apply).
  'argocd-controller': { product: 'Argo CD', anchor: 'argo-cd' },
  // Not verified as field managers: argocd-application-controller is the name of Argo CD's
  // controller StatefulSet and ServiceAccount, argocd-server of its API server; kept in case an
  // install or an older version writes under them.
  'argocd-application-controller': { product: 'Argo CD', anchor: 'argo-cd' },
  'argocd-server': { product: 'Argo CD', anchor: 'argo-cd' },
} as const satisfies Record<string, { product: string; anchor: string }>;

export type GitOpsAgentManager = keyof typeof GITOPS_AGENTS;

/** A GitOps agent owning a field Ramp writes. */
export interface AgentFight extends FieldOwner {
  manager: GitOpsAgentManager;
  /** `Flux` or `Argo CD`. */
  product: (typeof GITOPS_AGENTS)[GitOpsAgentManager]['product'];
  /** The section of docs/gitops.md on that agent's settings. */
  anchor: (typeof GITOPS_AGENTS)[GitOpsAgentManager]['anchor'];
  /** The field path asked about, e.g. `['spec', 'http']`. */
  path: readonly string[];
}

type FieldSet = Record<string, unknown>;

const isFieldSet = (v: unknown): v is FieldSet => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Does this FieldsV1 set own `path`, all or part of it? Each path segment is a map key (`f:<key>`).
 * An empty set `{}` marks a field owned as a whole, so a path below a wholly owned field (an atomic
 * list or map) is owned too; a node with children under the path is owned in part.
 */
export function ownsPath(fields: unknown, path: readonly string[]): boolean {
  if (!isFieldSet(fields) || path.length === 0) return false;
  let node: FieldSet = fields;
  for (const [i, key] of path.entries()) {
    const next = node[`f:${key}`];
    if (!isFieldSet(next)) return i > 0 && Object.keys(node).length === 0;
    node = next;
  }
  return true;
}

const timeOf = (e: ManagedFieldsEntry): string => (e.time instanceof Date ? e.time.toISOString() : (e.time ?? ''));

/** Every entry that owns `path`, all or part of it. */
function owners(managedFields: readonly ManagedFieldsEntry[] | undefined, path: readonly string[]): ManagedFieldsEntry[] {
  return (managedFields ?? []).filter((e) => e.fieldsType === 'FieldsV1' && ownsPath(e.fieldsV1, path));
}

/**
 * The manager that owns `path` and wrote it last: of several owners, the latest `time` (to the
 * second, as the apiserver records it; on a tie, the later entry in the list). Undefined when no
 * entry owns the path.
 */
export function ownerOf(managedFields: readonly ManagedFieldsEntry[] | undefined, path: readonly string[]): FieldOwner | undefined {
  // An entry without a time ranks below every timed one.
  const rank = (e: ManagedFieldsEntry) => Date.parse(timeOf(e)) || Number.NEGATIVE_INFINITY;
  let latest: ManagedFieldsEntry | undefined;
  for (const e of owners(managedFields, path)) {
    if (!latest || rank(e) >= rank(latest)) latest = e;
  }
  return latest && { manager: latest.manager ?? '', operation: latest.operation ?? '', time: timeOf(latest) };
}

const isAgent = (manager: string): manager is GitOpsAgentManager => Object.hasOwn(GITOPS_AGENTS, manager);

/**
 * The GitOps agent that took `path` back from Ramp, if one did: the path's latest owner is a known
 * agent and `rampManager` owns none of it any more. Undefined when Ramp still owns the path, when
 * nobody does, or when the owner is not a known agent (a person's kubectl: plain drift).
 *
 * Meant for the drift path, after Ramp has written the field and found it changed: before Ramp's
 * first write the agent owns what it applied, which is no fight.
 */
export function agentFight(managedFields: readonly ManagedFieldsEntry[] | undefined, path: readonly string[], rampManager = 'ramp'): AgentFight | undefined {
  if (owners(managedFields, path).some((e) => e.manager === rampManager)) return undefined;
  const owner = ownerOf(managedFields, path);
  if (!owner || !isAgent(owner.manager)) return undefined;
  const { product, anchor } = GITOPS_AGENTS[owner.manager];
  return { ...owner, manager: owner.manager, product, anchor, path };
}

/** The object a message names. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** What Ramp keeps at a path, for the message: the last segment decides. */
function whatRampWrites(path: readonly string[]): string {
  const last = path[path.length - 1];
  if (last === 'http' || last === 'rules') return "Ramp's weights";
  if (last === 'subsets') return "Ramp's subsets";
  return "Ramp's change";
}

/** The setting that makes each agent leave Ramp's fields alone, in a few words. */
function fixFor(fight: AgentFight, rampManager: string): string {
  if (fight.product === 'Flux') return 'annotate the object in git kustomize.toolkit.fluxcd.io/ssa: IfNotPresent';
  return `give the Application ignoreDifferences with managedFieldsManagers: [${rampManager}] and the sync option RespectIgnoreDifferences=true`;
}

/**
 * The pause message for a fight: which object and field, which agent re-applied it and when, and
 * the setting that ends it. `docsAnchor` is the page (`docs/gitops.md`, or a URL) to which the
 * agent's section (`#flux`, `#argo-cd`) is added, or a full link with its own `#section`.
 */
export function agentFightInWords(fight: AgentFight, object: ObjectRef, docsAnchor = 'docs/gitops.md', rampManager = 'ramp'): string {
  const docs = docsAnchor.includes('#') ? docsAnchor : `${docsAnchor}#${fight.anchor}`;
  const when = fight.time ? ` at ${fight.time}` : '';
  return (
    `${object.kind} ${object.namespace}/${object.name} ${fight.path.join('.')}: the GitOps agent ${fight.manager} (${fight.product}) ` +
    `re-applied it${when}, undoing ${whatRampWrites(fight.path)}; tell the agent to leave Ramp's fields alone ` +
    `(${docs}: ${fixFor(fight, rampManager)}), then resume the rollout`
  );
}
