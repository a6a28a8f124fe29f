/**
 * Ramp's own metrics, served on the worker's /metrics (src/worker/http.ts). Each worker process
 * has one registry: rollout-level series come from what its workflows report through the `ramp`
 * sink (src/worker/rollouts.ts), call errors from the activity boundary (src/worker/interceptors.ts).
 * The Temporal SDK's worker metrics are served apart, by its own exporter (RAMP_SDK_METRICS_ADDRESS).
 * Names and labels are listed in docs/tuning.md; alert rules in deploy/alerts/ use them.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { OUTCOMES, Phase, TERMINAL_PHASES } from '../domain/rollout/phases';

/** Phases a running rollout can be in: a rollout that ended leaves the per-phase gauge. */
export const LIVE_PHASES: readonly string[] = Object.values(Phase).filter((p) => !TERMINAL_PHASES.includes(p));

/** Where a rollout stands, as one worker knows it. */
export interface RolloutGaugeState {
  namespace: string;
  name: string;
  phase: string;
  /** Epoch seconds when the phase began. */
  phaseSince: number;
  step: number;
  canaryWeight: number;
}

export interface RampMetricsOptions {
  /** 1 when the worker would answer /readyz with 200; read at each scrape. */
  ready?: () => Promise<boolean>;
  /** Node.js process metrics (CPU, memory, event loop lag) as well; on in the worker process. */
  processMetrics?: boolean;
}

export class RampMetrics {
  readonly registry = new Registry();
  private readonly outcomes: Counter<'outcome'>;
  private readonly verdicts: Counter<'judge' | 'decision'>;
  private readonly weight: Gauge<'namespace' | 'name'>;
  private readonly phaseSince: Gauge<'namespace' | 'name' | 'phase'>;
  private readonly step: Gauge<'namespace' | 'name'>;
  private readonly kubeErrors: Counter<'activity' | 'type'>;
  private readonly promErrors: Counter<'type'>;
  /** Each running rollout's phase, by namespace/name: what ramp_rollouts counts, and which phase-since series to replace. */
  private readonly shownPhase = new Map<string, string>();

  constructor(opts: RampMetricsOptions = {}) {
    const registers = [this.registry];
    const shownPhase = this.shownPhase;
    new Gauge({
      name: 'ramp_rollouts', help: 'Rollouts this worker runs, by phase (a rollout counts on the worker that ran its latest workflow task).',
      labelNames: ['phase'], registers,
      collect() {
        const counts = new Map<string, number>();
        for (const phase of shownPhase.values()) counts.set(phase, (counts.get(phase) ?? 0) + 1);
        for (const phase of new Set([...LIVE_PHASES, ...counts.keys()])) this.set({ phase }, counts.get(phase) ?? 0);
      },
    });
    this.outcomes = new Counter({ name: 'ramp_rollout_outcomes_total', help: 'Rollouts that ended on this worker, by outcome.', labelNames: ['outcome'], registers });
    for (const outcome of OUTCOMES) this.outcomes.inc({ outcome }, 0);
    this.verdicts = new Counter({
      name: 'ramp_analysis_verdicts_total', help: 'Analysis looks that reached a decision, by judge (sequential, threshold, metrics) and decision (continue, promote, rollback, inconclusive, error).',
      labelNames: ['judge', 'decision'], registers,
    });
    this.weight = new Gauge({ name: 'ramp_rollout_canary_weight_percent', help: "The canary's traffic weight of each running rollout, percent.", labelNames: ['namespace', 'name'], registers });
    this.phaseSince = new Gauge({
      name: 'ramp_rollout_phase_since_timestamp_seconds', help: 'When each running rollout entered its current phase, Unix seconds (workflow time).',
      labelNames: ['namespace', 'name', 'phase'], registers,
    });
    this.step = new Gauge({ name: 'ramp_rollout_step', help: 'The step each running rollout is at, 0-based.', labelNames: ['namespace', 'name'], registers });
    this.kubeErrors = new Counter({
      name: 'ramp_kubernetes_errors_total', help: 'Activity attempts that failed on a Kubernetes API call, by activity and failure type (docs/decisions/0012-error-policy.md).',
      labelNames: ['activity', 'type'], registers,
    });
    this.promErrors = new Counter({
      name: 'ramp_prometheus_errors_total', help: 'Metrics-backend queries that failed: unreachable, http, bad_response, or the errorType Prometheus gave (bad_data, timeout, execution, …).',
      labelNames: ['type'], registers,
    });
    const ready = opts.ready;
    if (ready) {
      new Gauge({
        name: 'ramp_worker_ready', help: '1 when the worker is connected to Temporal and polling (what /readyz answers 200 for), else 0.', registers,
        async collect() {
          this.set((await ready()) ? 1 : 0);
        },
      });
    }
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A running rollout's gauges. */
  setRollout(s: RolloutGaugeState): void {
    const id = { namespace: s.namespace, name: s.name };
    this.weight.set(id, s.canaryWeight);
    this.step.set(id, s.step);
    const key = `${s.namespace}/${s.name}`;
    const shown = this.shownPhase.get(key);
    if (shown !== undefined && shown !== s.phase) this.phaseSince.remove({ ...id, phase: shown });
    this.phaseSince.set({ ...id, phase: s.phase }, s.phaseSince);
    this.shownPhase.set(key, s.phase);
  }

  /** Drops a rollout's series: it ended, so they would only linger. */
  removeRollout(namespace: string, name: string): void {
    const id = { namespace, name };
    this.weight.remove(id);
    this.step.remove(id);
    const key = `${namespace}/${name}`;
    const shown = this.shownPhase.get(key);
    if (shown !== undefined) this.phaseSince.remove({ ...id, phase: shown });
    this.shownPhase.delete(key);
  }

  rolloutEnded(outcome: string): void {
    this.outcomes.inc({ outcome });
  }

  analysisVerdict(judge: string, decision: string): void {
    this.verdicts.inc({ judge, decision });
  }

  kubernetesError(activity: string, type: string): void {
    this.kubeErrors.inc({ activity, type });
  }

  prometheusError(type: string): void {
    this.promErrors.inc({ type });
  }

  /** The Prometheus text exposition of every metric, and its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
