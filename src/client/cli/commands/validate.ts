/**
 * `ramp validate -f FILE [--image IMG] [--cluster [--kubeconfig PATH]]`, and `ramp start --dry-run`:
 * the worker's own schema, offline; with --cluster, also the rollout's own preflight against the
 * live cluster, every problem at once, and what the rollout will change — nothing is started.
 *
 * Offline validation runs in CI on every change: the Kubernetes and Temporal clients (which
 * cluster.ts loads) are required only where they are used.
 */
import type * as k8s from '@kubernetes/client-node';
import { parseRollout, SpecError, formatProblem } from '../../../domain/spec/parse';
import type { ResolvedRollout } from '../../../domain/spec/schema';
import type { ClusterPlan } from '../../cluster';
import { describeTraffic } from '../../../domain/traffic/describe';
import type { Output } from '../context';
import { CliError, ExitCode } from '../errors';
import * as fs from 'node:fs';

/* eslint-disable @typescript-eslint/no-require-imports -- loaded when used (see the module comment) */
const clusterModule = () => require('../../cluster') as typeof import('../../cluster');
/* eslint-enable @typescript-eslint/no-require-imports */

/** What loadSpec reads and how it resolves the spec. */
export interface SpecSource {
  /** What the user typed after -f (problems name it); `-` is stdin. */
  file: string;
  /** Where to read it from when it is a path (the user's directory resolved). */
  fullPath?: string;
  /** --image: the canary's image instead of the spec's. */
  image?: string;
  /** -n: fills a missing metadata.namespace; a different one in the spec is refused. */
  namespace?: string;
  /** Reads stdin for `-f -` (a parameter so tests need no real stdin). */
  readStdin?: () => string;
}

/** The name problems use for a spec read from stdin. */
export const STDIN_NAME = '(stdin)';

/** Reads and validates a spec; exits 2 with every problem listed when it is invalid. */
export function loadSpec(src: SpecSource): ResolvedRollout {
  const fromStdin = src.file === '-';
  const source = fromStdin ? STDIN_NAME : src.file;
  let text: string;
  try {
    text = fromStdin ? (src.readStdin ?? (() => fs.readFileSync(0, 'utf8')))() : fs.readFileSync(src.fullPath ?? src.file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (fromStdin) throw new CliError(`-f -: cannot read the spec from stdin (${code}); pipe it in, e.g. cat rollout.yaml | ramp validate -f -`, ExitCode.Invalid);
    const where = src.fullPath === undefined || src.fullPath === src.file ? '' : ` (${src.fullPath})`;
    throw new CliError(`-f ${src.file}${where}: cannot read the file (${code})`, ExitCode.Invalid);
  }
  try {
    return parseRollout(text, { source, image: src.image, namespace: src.namespace });
  } catch (err) {
    if (err instanceof SpecError) {
      const problems = err.problems.map((p) => formatProblem(p));
      throw new CliError(`${source}: invalid Rollout spec (${problems.length} problem${problems.length > 1 ? 's' : ''})\n${problems.map((p) => `  ${p}`).join('\n')}`, ExitCode.Invalid, problems);
    }
    throw err;
  }
}

export function validate(out: Output, file: string, r: ResolvedRollout): ExitCode {
  if (out.json) out.print(JSON.stringify({ valid: true, rollout: r }));
  else out.print(`${file}: valid — Rollout ${r.metadata.namespace}/${r.metadata.name}, ${r.spec.steps.length} steps, traffic: ${describeTraffic(r.spec.traffic)}`);
  return ExitCode.Ok;
}

/** The plan in words, in the order the rollout acts. */
export function planLines(r: ResolvedRollout, plan: ClusterPlan): string[] {
  const c = plan.canary;
  const p = plan.promotion;
  const acts: string[] = [];
  for (const ch of plan.changes.filter((x) => x.when === 'beforeCanary')) acts.push(`before the canary: ${ch.description}`);
  acts.push(`create Deployment ${c.namespace}/${c.name}: image ${c.image ?? '(none)'} (container ${c.container}), ${c.versionLabel.key}=${c.versionLabel.value}, `
    + `${c.replicas} replica${c.replicas === 1 ? '' : 's'}; then wait until it is Available (progress deadline ${Math.round(r.spec.progressDeadlineMs / 1000)}s)`);
  for (const ch of plan.changes.filter((x) => x.when === 'afterCanary')) acts.push(`once the canary is Available: ${ch.description}`);
  acts.push(`the steps: ${plan.steps.map((s, i) => `${i + 1}) ${s}`).join(', ')}`);
  acts.push(`at promotion: roll Deployment ${p.namespace}/${p.deployment} to the canary's pod template (container ${p.container} image ${p.image ?? '(none)'}, `
    + `pods labelled ${p.versionLabel.key}=${p.versionLabel.value}); then take the changes above back, last first, and delete the canary`);
  return [
    `Traffic    ${describeTraffic(r.spec.traffic)}; now stable ${plan.weights.stable}% / canary ${plan.weights.canary}%`,
    'What it will create or change, in order:',
    ...acts.map((a, i) => `  ${i + 1}. ${a}`),
  ];
}

/**
 * The rollout's preflight against the cluster `kube` points at: exit 0 with the plan when it can go
 * ahead, 2 with every problem, 3 when the cluster could not be checked.
 */
export async function validateOnCluster(out: Output, file: string, r: ResolvedRollout, kube: k8s.KubeConfig): Promise<ExitCode> {
  const { checkOnCluster, ClusterUnreachableError } = clusterModule();
  let res;
  try {
    res = await checkOnCluster(r, kube);
  } catch (err) {
    if (err instanceof ClusterUnreachableError) throw new CliError(err.message, ExitCode.Unreachable);
    throw err;
  }
  if (out.json) {
    out.print(JSON.stringify(res));
    return res.ok ? ExitCode.Ok : ExitCode.Invalid;
  }
  const name = `Rollout ${r.metadata.namespace}/${r.metadata.name}`;
  const cluster = `${kube.getCurrentCluster()?.server ?? '(no server)'} (context ${kube.getCurrentContext()})`;
  if (res.ok) {
    out.print([`${file}: ${name} can go ahead on ${cluster}`, ...planLines(r, res.plan), 'Nothing was changed and no rollout was started.'].join('\n'));
    return ExitCode.Ok;
  }
  out.print([
    `${file}: ${name} cannot start on ${cluster}: ${res.problems.length} problem${res.problems.length === 1 ? '' : 's'}`,
    ...res.problems.map((p) => `  - ${p}`),
    'Nothing was changed and no rollout was started.',
  ].join('\n'));
  return ExitCode.Invalid;
}
