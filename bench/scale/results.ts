/** The shape of bench/results/scale.json. */
import type { ProcessUsage, SeriesPoint } from './procstat';
import type { Summary } from './stats';

export interface MachineInfo {
  date: string;
  cpu: string;
  nproc: number;
  memGiB: number;
  node: string;
  kubernetes: string;
}

/** The commit measured, and the files under src/ that differed from it at the time. */
export interface CodeState {
  commit: string;
  uncommittedSrc: string[];
}

/** One run of a scenario: N rollouts started together on one fresh worker process. */
export interface RunResult {
  date: string;
  code: CodeState;
  rollouts: number;
  /** Worker settings beyond the defaults. */
  env: Record<string, string>;
  /** What the worker reported it runs with (bench/scale/worker.ts). */
  workerOptions: Record<string, unknown>;
  outcomes: Record<string, number>;
  /** Rollouts still running at the end (the time limit, or only rollouts waiting for a person left); then cancelled. */
  unfinished: number;
  /** Status messages of the unfinished rollouts when they were all paused. */
  stuck?: string[];
  /** First start call → last rollout finished. */
  totalS: number;
  /** First start call → last start call answered. */
  startAllS: number;
  startCallMs: Summary;
  /** Per rollout, WorkflowExecutionStarted → closed. */
  durationS: Summary;
  /**
   * Where a rollout's time goes: setup (start → first timer: preflight, canary, readiness, first
   * weight), the steps beyond their nominal time, and finish (last step → closed: promotion).
   */
  phasesS: { setup: Summary; stepsBeyondNominal: Summary; finish: Summary };
  /** WorkflowExecutionStarted → first WorkflowTaskStarted. */
  firstTaskMs: Summary;
  /** Timer-driven step lateness (bench/scale/history.ts): all, by kind, and its parts. */
  latenessMs: Record<'all' | 'pause' | 'analysis' | 'fire' | 'queue' | 'worker' | 'committed', Summary>;
  /** ActivityTaskScheduled → ActivityTaskStarted, first attempts of regular activities. */
  activityScheduleToStartMs: { all: Summary; byType: Record<string, Summary> };
  /** How long each call ran, by type ("(local)" for local activities), from the worker's SDK metrics (p99: histogram bucket bound). */
  callRunMs: Record<string, { count: number; meanMs: number; p99Ms: number }>;
  callRetries: number;
  /** The canary's readiness wait (first waitAvailable), which the cluster's controllers decide. */
  canaryReadyS: Summary;
  /** The promoted stable Deployment's readiness wait (second waitAvailable). */
  stableReadyS: Summary;
  historyEvents: Summary;
  workflowTaskTimeouts: number;
  workflowTaskFailures: number;
  resources: {
    usage: Record<string, ProcessUsage>;
    /** The whole machine, % of all cores. */
    machineBusyPct: { mean: number; peak5s: number };
    /** Machine busy share over the 5 s before the run. */
    idleBusyPctBefore: number;
    /** CPU of processes the bench does not track (other work on the machine), % of one core. */
    otherCpuPct: number;
  };
  worker: {
    spawnToReadyMs: number;
    loopDelayMs: { p99Max: number; max: number; p50Mean: number };
    peakCachedWorkflows: number;
    memoryAtPeakMiB?: { rss: number; heapUsed: number; heapTotal: number; external: number };
    peakInFlightActivities: number;
    sdk: Record<string, number | { count: number; meanMs: number }>;
  };
  temporal: Record<string, number>;
  controllerManager: Record<string, number>;
  apiserver: Record<string, number>;
  series: SeriesPoint[];
  /** The dev server's persistence load every 10 s (bench/scale/run.ts TemporalPoint). */
  temporalSeries?: { t: number; persistenceBusy: number; updatesPerS: number; workflowTasksCompletedPerS: number; respondMeanMs: number }[];
  raw: { latenessMs: number[] };
}

export interface ScenarioResult {
  rollouts: number;
  what: string;
  runs: RunResult[];
}

export interface StartupSide {
  spawnToReadyMs: Summary;
  workerCreateMs: Summary;
  peakRssMiB: Summary;
}

export interface StartupResult {
  date: string;
  repeats: number;
  /** Compiled worker, prebuilt bundle. */
  prebuilt: StartupSide;
  /** Compiled worker, bundling at start (workflowsPath). */
  atStart: StartupSide;
  /** The worker under tsx (as `npm run worker` runs it), prebuilt bundle. */
  tsxPrebuilt?: StartupSide;
}

export interface ScaleResults {
  machine: MachineInfo;
  rollout: { steps: unknown[]; nominalS: number };
  fixtures?: { namespaces: number; createS: number; allAvailableS: number; date: string };
  startup?: StartupResult;
  scenarios: Record<string, ScenarioResult>;
}
