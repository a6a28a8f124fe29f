/**
 * RBAC as sets of permissions, so the worker's rules can be compared with what its code calls.
 * A permission is `group/resource:verb` (core group empty: `/services:get`), the unit the
 * apiserver's RBAC authorizer decides on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
/** The worker's rules in the chart: the single source its Roles and deploy/rbac.yaml carry. */
export const CHART_RULES_FILE = path.join(ROOT, 'charts/ramp-worker/files/rules.yaml');

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export const permission = (group: string, resource: string, verb: string) => `${group}/${resource}:${verb}`;

/** Every permission a list of rules grants, expanded; wildcards are kept as `*` so a test can refuse them. */
export function permissionsOf(rules: PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) out.add(permission(g, res, v));
  }
  return out;
}

export function chartRules(file = 'rules.yaml'): PolicyRule[] {
  return YAML.parse(fs.readFileSync(path.join(path.dirname(CHART_RULES_FILE), file), 'utf8')) as PolicyRule[];
}

/** The one Role or ClusterRole in a multi-document manifest. */
export function rulesInManifest(text: string): { kind: string; rules: PolicyRule[] }[] {
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as { kind?: string; rules?: PolicyRule[] } | null)
    .filter((d): d is { kind: string; rules: PolicyRule[] } => d?.kind === 'Role' || d?.kind === 'ClusterRole')
    .map((d) => ({ kind: d.kind, rules: d.rules ?? [] }));
}

/**
 * The permission an HTTP request to the apiserver needs, as the apiserver's request-info resolver
 * reads it: /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]] and /apis/GROUP/VERSION/…; verb from the
 * method (GET on a collection is list, or watch with ?watch). Non-resource paths come back as
 * `nonResource:PATH`.
 */
export function permissionOfRequest(method: string, pathAndQuery: string): string {
  const url = new URL(pathAndQuery, 'https://apiserver');
  const parts = url.pathname.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return `nonResource:${url.pathname}`;
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource, name, sub] = rest;
  if (!resource) return `nonResource:${url.pathname}`;
  const full = sub ? `${resource}/${sub}` : resource;
  const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  const verb = {
    GET: watching ? 'watch' : name ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: name ? 'delete' : 'deletecollection',
  }[method.toUpperCase()];
  if (!verb) throw new Error(`no RBAC verb for ${method} ${pathAndQuery}`);
  return permission(group, full, verb);
}
