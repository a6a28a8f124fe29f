/**
 * A real KubeConfig whose requests can be watched and delayed: before a request matching a rule is
 * sent, the rule's action runs (for example another writer's real change through the admin client),
 * so a test can put a concurrent write exactly between a worker's read and its write. The requests
 * still go to the real apiserver, with the real credentials.
 */
import * as k8s from '@kubernetes/client-node';

export interface RequestInfo {
  method: string;
  /** Path and query, e.g. /apis/apps/v1/namespaces/ns/deployments/web. */
  path: string;
  contentType?: string;
}

export interface InterceptRule {
  /** Which requests this rule acts on. */
  matches(req: RequestInfo): boolean;
  /** Runs before the matching request is sent. */
  before(req: RequestInfo): Promise<void>;
  /** How many matching requests to act on (default 1). */
  times?: number;
}

export class InterceptingKubeConfig extends k8s.KubeConfig {
  private readonly rules: (InterceptRule & { left: number })[] = [];
  /** Every request seen, in order. */
  readonly seen: RequestInfo[] = [];

  constructor(from: k8s.KubeConfig) {
    super();
    this.loadFromString(from.exportConfig());
  }

  /** Adds a rule; it acts on the next `times` matching requests. */
  on(rule: InterceptRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  override async applySecurityAuthentication(context: Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0]): Promise<void> {
    const url = new URL(context.getUrl());
    const headers = context.getHeaders() as Record<string, string>;
    const req: RequestInfo = { method: String(context.getHttpMethod()), path: url.pathname + url.search, contentType: headers['Content-Type'] ?? headers['content-type'] };
    this.seen.push(req);
    for (const rule of this.rules) {
      if (rule.left > 0 && rule.matches(req)) {
        rule.left--;
        await rule.before(req);
      }
    }
    await super.applySecurityAuthentication(context);
  }
}
