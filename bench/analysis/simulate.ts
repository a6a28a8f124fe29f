/**
 * One synthetic canary analysis: per-second request, error and latency streams for the canary and
 * the baseline, turned into what Prometheus would show (cumulative counters and histogram buckets
 * sampled every scrape), fed to each judge at every scrape. An A/A run lasts the whole horizon, so
 * that rollbacks after an early promotion are seen too; a regression run stops once every judge has
 * rolled back.
 *
 * Model, per second and arm: requests ~ Poisson(rate × load); a request errs with the arm's error
 * probability; its latency is log-normal (median `latencyMedianMs`, log-sd `latencySigma`) and
 * lands in Istio's default duration buckets. Noise is drawn per minute: a load factor shared by
 * both arms, and per arm an error multiplier exp(σZ − σ²/2) (mean 1, so the expected error rates
 * stay equal in an A/A scenario) and a latency log-shift σZ (same σ for both arms, so the latency
 * distributions stay equal in an A/A scenario). Per second, requests are split into latency buckets
 * by Poisson thinning: non-error requests per bucket and errors are independent Poisson counts,
 * and each error's latency bucket is drawn by inversion.
 */
import { calibrateNoise } from '../../src/domain/analysis/calibrate';
import type { ArmCounters, JudgeObservation } from '../../src/domain/analysis/judge';
import { sequentialJudge, type SequentialConfig, type SequentialState } from '../../src/domain/analysis/sequential-judge';
import { thresholdJudge, type ThresholdConfig, type ThresholdState } from '../../src/domain/analysis/threshold-judge';
import { normalCdf, Random } from './random';

/** Istio's default `istio_request_duration_milliseconds` bucket bounds. */
export const ISTIO_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** Per-minute noise; 0 everywhere is a stationary stream. */
export interface Noise {
  /** Log-sd of the load factor shared by both arms. */
  load: number;
  /** Log-sd of the canary's and the baseline's error-rate multipliers. */
  canaryErrors: number;
  baselineErrors: number;
  /** Log-sd of the latency shift of each arm (drawn independently per arm). */
  latency: number;
}

/** A scenario: traffic, base behaviour, the canary's regression, the noise. */
export interface Scenario {
  /** Short unique name, used as its key in the results. */
  name: string;
  /** `aa` (canary as good as baseline) or `regression`. */
  kind: 'aa' | 'regression';
  /** Requests per second reaching the canary (before noise). */
  canaryRps: number;
  /** The canary's configured weight, percent, as the judges are told. */
  canaryWeight: number;
  /** The share of traffic the canary really gets, percent (a broken split); defaults to canaryWeight. */
  actualWeight?: number;
  /** Base error probability of a request. */
  errorRate: number;
  /** Canary error probability = errorRate × errorFactor. */
  errorFactor: number;
  /** Canary latency = baseline latency × latencyFactor. */
  latencyFactor: number;
  latencyMedianMs: number;
  latencySigma: number;
  noise: Noise;
  /** Runs to simulate. */
  runs: number;
  /** One line for the results table. */
  description: string;
}

/** A judge under test. */
export type JudgeSpec =
  | { id: string; kind: 'sequential'; config: SequentialConfig }
  | { id: string; kind: 'threshold'; config: ThresholdConfig };

/** Timing shared by all scenarios. */
export interface Timing {
  /** Length of a run, seconds. */
  horizonS: number;
  /** Prometheus scrape interval, seconds: judges look at every scrape. */
  scrapeS: number;
  /** Baseline history before the canary starts, seconds (its cumulative counters are not zero). */
  historyS: number;
  /** Of it, the last minutes are served minute by minute with the baseline's noise: what calibration reads. */
  calibrationMinutes: number;
}

/** What happened in one run for one judge: times in seconds from the canary's start, or null. */
export interface JudgeRun {
  /** First look that said rollback, if it came before any promotion. */
  rollbackS: number | null;
  /** First look that said promote, if it came before any rollback. */
  promoteS: number | null;
  /** First rollback at any look, even after a promotion (the "however often it looks" check). */
  anyRollbackS: number | null;
  /** First look that reported a traffic split mismatch. */
  mismatchS: number | null;
  /** Which metric carried the first rollback (sequential judge: the larger e-value). */
  trigger: 'errors' | 'latency' | null;
}

interface ArmParams {
  /** Expected requests per second before the load factor. */
  rps: number;
  errorProb: number;
  /** Probability of each latency bucket interval (le[i-1], le[i]], the last one being (le[n-1], +Inf). */
  bucketProbs: Float64Array;
  /** Cumulative of bucketProbs, to place errors by inversion. */
  bucketCdf: Float64Array;
}

class Arm {
  requests = 0;
  errors = 0;
  /** Counts per bucket interval (not cumulative). */
  readonly perBucket = new Float64Array(ISTIO_BUCKETS_MS.length + 1);

  counters(): ArmCounters {
    let cum = 0;
    const buckets = ISTIO_BUCKETS_MS.map((le, i) => {
      cum += this.perBucket[i]!;
      return { le, count: cum };
    });
    return { requests: this.requests, errors: this.errors, latency: { buckets, count: cum + this.perBucket[ISTIO_BUCKETS_MS.length]! } };
  }
}

const LOG_BUCKETS = ISTIO_BUCKETS_MS.map(Math.log);

function armParams(rps: number, errorProb: number, medianMs: number, sigma: number, logShift: number): ArmParams {
  const mu = Math.log(medianMs) + logShift;
  const probs = new Float64Array(ISTIO_BUCKETS_MS.length + 1);
  const cdf = new Float64Array(ISTIO_BUCKETS_MS.length + 1);
  let prev = 0;
  for (let i = 0; i < LOG_BUCKETS.length; i++) {
    const c = normalCdf((LOG_BUCKETS[i]! - mu) / sigma);
    probs[i] = Math.max(0, c - prev);
    cdf[i] = c;
    prev = c;
  }
  probs[LOG_BUCKETS.length] = Math.max(0, 1 - prev);
  cdf[LOG_BUCKETS.length] = 1;
  return { rps, errorProb: Math.min(1, errorProb), bucketProbs: probs, bucketCdf: cdf };
}

/** Adds `seconds` seconds of traffic with fixed parameters to an arm. */
function serve(rng: Random, arm: Arm, p: ArmParams, load: number, seconds: number): void {
  const mean = p.rps * load * seconds;
  const errors = rng.poisson(mean * p.errorProb);
  const okMean = mean * (1 - p.errorProb);
  let total = errors;
  for (let i = 0; i < p.bucketProbs.length; i++) {
    const m = okMean * p.bucketProbs[i]!;
    if (m < 1e-9) continue;
    const n = rng.poisson(m);
    arm.perBucket[i]! += n;
    total += n;
  }
  for (let e = 0; e < errors; e++) {
    const u = rng.uniform();
    let i = 0;
    while (i < p.bucketCdf.length - 1 && u > p.bucketCdf[i]!) i++;
    arm.perBucket[i]! += 1;
  }
  arm.requests += total;
  arm.errors += errors;
}

/** Feeds observations to one judge and remembers what it did. */
class JudgeUnderTest {
  readonly run: JudgeRun = { rollbackS: null, promoteS: null, anyRollbackS: null, mismatchS: null, trigger: null };
  private seqState: SequentialState | undefined;
  private thrState: ThresholdState | undefined;
  private readonly seqConfig: SequentialConfig | undefined;

  /** `history`: the baseline's counters at each minute before the first look, as the workflow reads them to calibrate. */
  constructor(private readonly spec: JudgeSpec, history: ArmCounters[]) {
    if (spec.kind === 'sequential') {
      const wanted = spec.config.calibrationBatches ?? 0;
      const cal = wanted > 0 ? calibrateNoise(spec.config, history.slice(-(wanted + 1))) : undefined;
      this.seqConfig = cal ? { ...spec.config, noise: cal.noise, latencyNoise: cal.latencyNoise } : spec.config;
    }
  }

  look(obs: JudgeObservation, t: number): void {
    if (this.spec.kind === 'sequential') {
      const { state, verdict } = sequentialJudge(this.seqConfig!, this.seqState, obs);
      this.seqState = state;
      const ev = verdict.evidence;
      record(this.run, verdict.decision, t, ev.split.mismatch, ev.errors.eRollback >= ev.latency.eRollback ? 'errors' : 'latency');
    } else {
      const { state, verdict } = thresholdJudge(this.spec.config, this.thrState, obs);
      this.thrState = state;
      const failed = verdict.evidence.lastFailure ?? '';
      record(this.run, verdict.decision, t, false, failed.startsWith('request-duration') ? 'latency' : 'errors');
    }
  }
}

/** Simulates one run of `scenario` and returns what each judge did, in the order given. */
export function simulateRun(scenario: Scenario, timing: Timing, seed: [number, number], judges: JudgeSpec[]): JudgeRun[] {
  const rng = new Random(seed[0], seed[1]);
  // Total traffic follows from the canary's nominal rate and configured weight; a broken split
  // moves requests between the arms without changing the total.
  const totalRps = scenario.canaryRps / (scenario.canaryWeight / 100);
  const w = (scenario.actualWeight ?? scenario.canaryWeight) / 100;
  const canaryRps = totalRps * w;
  const baseRps = totalRps * (1 - w);
  const canary = new Arm();
  const baseline = new Arm();

  // The baseline has been serving before the canary starts: its counters carry that history. Its
  // last minutes are served minute by minute, with the baseline's share of the noise, and read at
  // each minute as a range query would read them for calibration.
  const n = scenario.noise;
  const quietS = Math.max(0, timing.historyS - timing.calibrationMinutes * 60);
  serve(rng, baseline, armParams(baseRps, scenario.errorRate, scenario.latencyMedianMs, scenario.latencySigma, 0), 1, quietS);
  const history: ArmCounters[] = [baseline.counters()];
  for (let m = 0; m < timing.calibrationMinutes; m++) {
    const load = Math.exp(n.load * rng.normal() - (n.load * n.load) / 2);
    const be = Math.exp(n.baselineErrors * rng.normal() - (n.baselineErrors * n.baselineErrors) / 2);
    const bl = n.latency * rng.normal();
    const p = armParams(baseRps, scenario.errorRate * be, scenario.latencyMedianMs, scenario.latencySigma, bl);
    serve(rng, baseline, p, load, 60);
    history.push(baseline.counters());
  }

  const testers = judges.map((j) => new JudgeUnderTest(j, history));
  const look = (t: number) => {
    const obs: JudgeObservation = {
      at: 1_700_000_000_000 + t * 1000,
      canaryWeight: scenario.canaryWeight,
      canary: canary.counters(),
      baseline: baseline.counters(),
    };
    for (const j of testers) j.look(obs, t);
  };
  look(0);

  let canaryP: ArmParams | undefined;
  let baselineP: ArmParams | undefined;
  let load = 1;
  for (let sec = 0; sec < timing.horizonS; sec++) {
    if (sec % 60 === 0) {
      load = Math.exp(n.load * rng.normal() - (n.load * n.load) / 2);
      const ce = Math.exp(n.canaryErrors * rng.normal() - (n.canaryErrors * n.canaryErrors) / 2);
      const be = Math.exp(n.baselineErrors * rng.normal() - (n.baselineErrors * n.baselineErrors) / 2);
      const cl = n.latency * rng.normal();
      const bl = n.latency * rng.normal();
      canaryP = armParams(canaryRps, scenario.errorRate * scenario.errorFactor * ce, scenario.latencyMedianMs * scenario.latencyFactor, scenario.latencySigma, cl);
      baselineP = armParams(baseRps, scenario.errorRate * be, scenario.latencyMedianMs, scenario.latencySigma, bl);
    }
    serve(rng, canary, canaryP!, load, 1);
    serve(rng, baseline, baselineP!, load, 1);
    const t = sec + 1;
    if (t % timing.scrapeS === 0) {
      look(t);
      // A regression run is over once every judge rolled back; A/A runs watch the whole horizon
      // so that rollbacks after an early promotion are seen too.
      if (scenario.kind === 'regression' && testers.every((j) => j.run.anyRollbackS !== null)) break;
    }
  }
  return testers.map((j) => j.run);
}

function record(r: JudgeRun, decision: string, t: number, mismatch: boolean, trigger: 'errors' | 'latency'): void {
  if (mismatch && r.mismatchS === null) r.mismatchS = t;
  if (decision === 'rollback') {
    if (r.anyRollbackS === null) r.anyRollbackS = t;
    if (r.rollbackS === null && r.promoteS === null) {
      r.rollbackS = t;
      r.trigger = trigger;
    }
  } else if (decision === 'promote') {
    if (r.promoteS === null && r.rollbackS === null) r.promoteS = t;
  }
}
