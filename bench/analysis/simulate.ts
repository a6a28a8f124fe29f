/**
 * One synthetic canary analysis: request, error and latency streams for the canary and the
 * baseline, turned into what Prometheus would show (cumulative counters and histogram buckets
 * sampled every scrape), read by each judge at its own look interval. An A/A run lasts the whole
 * horizon, so that rollbacks after an early promotion are seen too; a regression run stops once
 * every judge has rolled back or ended its analysis.
 *
 * Model, per scrape interval and arm: requests ~ Poisson(rate × load); a request errs with the
 * arm's error probability; its latency is log-normal (median `latencyMedianMs`, log-sd
 * `latencySigma`), or for the canary of a tail scenario a mixture with a slower share, and lands in
 * Istio's default duration buckets. Noise is drawn per episode (`Noise.episodeS`: a minute, or
 * several): a load factor shared by both arms, and per arm an error multiplier exp(σZ − σ²/2)
 * (mean 1, so the expected error rates stay equal in an A/A scenario) and a latency log-shift σZ.
 * Requests are split into latency buckets by Poisson thinning: non-error requests per bucket and
 * errors are independent Poisson counts, and each error's latency bucket is drawn by inversion.
 *
 * A new canary has no series at all until its first request has been scraped, one or two scrape
 * intervals of a 15 s scrape after it (Istio creates a workload's series with its first request),
 * so the judges' first look finds none.
 */
import { calibrateNoise } from '../../src/domain/analysis/calibrate';
import { AnalysisPhase } from '../../src/domain/analysis/evaluate';
import type { ArmCounters, JudgeObservation } from '../../src/domain/analysis/judge';
import { calibrate, calibrationWanted, initialJudgedState, judgeLook, type JudgedAnalysis, type JudgedState } from '../../src/domain/analysis/judged';
import { sequentialJudge, type SequentialConfig, type SequentialEvidence, type SequentialState } from '../../src/domain/analysis/sequential-judge';
import type { AnalysisSpec } from '../../src/domain/spec/analysis';
import { thresholdJudge, type ThresholdConfig, type ThresholdState } from '../../src/domain/analysis/threshold-judge';
import { normalCdf, Random } from './random';

/** Istio's default `istio_request_duration_milliseconds` bucket bounds. */
export const ISTIO_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/**
 * Noise, drawn per episode: each component keeps its value for `episodeS` seconds (60: per-minute
 * noise, independent minute to minute; longer: noise that lasts, as GC storms and noisy neighbours
 * do), episodes starting at a random phase that batches do not know. 0 everywhere is a stationary
 * stream.
 */
export interface Noise {
  /** Log-sd of the load factor shared by both arms. */
  load: number;
  /** Log-sd of the canary's and the baseline's error-rate multipliers. */
  canaryErrors: number;
  baselineErrors: number;
  /** Log-sd of each arm's latency shift (drawn independently per arm). */
  canaryLatency: number;
  baselineLatency: number;
  /** How long a drawn value lasts, seconds (a multiple of the scrape interval). */
  episodeS: number;
}

/** A regression in the tail only: a share of the canary's requests takes `factor` times longer. */
export interface TailRegression {
  share: number;
  factor: number;
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
  /** The canary's tail regression, if any (its median stays). */
  tail?: TailRegression;
  latencyMedianMs: number;
  latencySigma: number;
  noise: Noise;
  /** Runs to simulate. */
  runs: number;
  /** One line for the results table. */
  description: string;
}

/**
 * A judge under test, looking every `lookS` seconds: the sequential or threshold judge on its own
 * (watching the whole horizon), or `spec`, an analysis step exactly as a rollout spec resolves it
 * (src/domain/spec/analysis.ts), run through the workflow's own rules (src/domain/analysis/judged.ts)
 * until the step ends: Failed (roll back), Successful (promote) or Inconclusive (hold).
 */
export type JudgeSpec =
  | { id: string; kind: 'sequential'; config: SequentialConfig; lookS: number }
  | { id: string; kind: 'threshold'; config: ThresholdConfig; lookS: number }
  | { id: string; kind: 'spec'; analysis: AnalysisSpec; lookS: number };

/** Timing shared by all scenarios. */
export interface Timing {
  /** Length of a run, seconds. */
  horizonS: number;
  /** Prometheus scrape interval, seconds: what a look reads is the last scrape. */
  scrapeS: number;
  /** Baseline history before the canary starts, seconds (its cumulative counters are not zero). */
  historyS: number;
  /** Of it, the last minutes are served minute by minute with the baseline's noise: what calibration reads. */
  calibrationMinutes: number;
  /** A new series reaches Prometheus this many scrape intervals after its first sample at the earliest… */
  seriesDelayMinS: number;
  /** …and at the latest (drawn per run). */
  seriesDelayMaxS: number;
}

/** What happened in one run for one judge: times in seconds from the canary's start, or null. */
export interface JudgeRun {
  /** First look that said rollback, if it came before any promotion. */
  rollbackS: number | null;
  /** First look that said promote, if it came before any rollback. */
  promoteS: number | null;
  /** An analysis step that ended without a verdict and holds for a person (`spec` judges only). */
  holdS: number | null;
  /** First rollback at any look, even after a promotion (the "however often it looks" check). */
  anyRollbackS: number | null;
  /** First look that reported a traffic split mismatch. */
  mismatchS: number | null;
  /** Which metric carried the first rollback (sequential judge: the larger e-value). */
  trigger: 'errors' | 'latency' | 'tail' | null;
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

/** Bucket probabilities of a log-normal latency, or of a mixture with a slower `tail`. */
function armParams(rps: number, errorProb: number, medianMs: number, sigma: number, logShift: number, tail?: TailRegression): ArmParams {
  const cdfAt = (i: number) => {
    const c = (mu: number) => normalCdf((LOG_BUCKETS[i]! - mu) / sigma);
    const mu = Math.log(medianMs) + logShift;
    return tail ? (1 - tail.share) * c(mu) + tail.share * c(mu + Math.log(tail.factor)) : c(mu);
  };
  const probs = new Float64Array(ISTIO_BUCKETS_MS.length + 1);
  const cdf = new Float64Array(ISTIO_BUCKETS_MS.length + 1);
  let prev = 0;
  for (let i = 0; i < LOG_BUCKETS.length; i++) {
    const c = cdfAt(i);
    probs[i] = Math.max(0, c - prev);
    cdf[i] = c;
    prev = c;
  }
  probs[LOG_BUCKETS.length] = Math.max(0, 1 - prev);
  cdf[LOG_BUCKETS.length] = 1;
  return { rps, errorProb: Math.min(1, errorProb), bucketProbs: probs, bucketCdf: cdf };
}

/** The q-quantile of a latency distribution with these parameters (for describing scenarios). */
export function latencyQuantileMs(q: number, medianMs: number, sigma: number, tail?: TailRegression): number {
  const cdf = (x: number) => {
    const c = (m: number) => normalCdf((Math.log(x) - Math.log(m)) / sigma);
    return tail ? (1 - tail.share) * c(medianMs) + tail.share * c(medianMs * tail.factor) : c(medianMs);
  };
  let lo = 1e-3;
  let hi = 1e7;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(lo * hi);
    if (cdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return Math.sqrt(lo * hi);
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

/** One noise component: a normal draw with log-sd `sd`, held for an episode, episodes at a random phase. */
class Episodes {
  private value = 0;
  private next: number;

  constructor(private readonly rng: Random, private readonly sd: number, private readonly lengthS: number, startS: number, stepS: number) {
    // The first boundary falls at a random step within the first episode.
    this.next = startS + stepS * Math.floor(rng.uniform() * (lengthS / stepS));
    this.value = sd > 0 ? sd * rng.normal() : 0;
  }

  /** The value at time `t` (called with non-decreasing t). */
  at(t: number): number {
    while (t >= this.next) {
      this.value = this.sd > 0 ? this.sd * this.rng.normal() : 0;
      this.next += this.lengthS;
    }
    return this.value;
  }
}

/** The arms' noise over time: a shared load factor, per-arm error multipliers (mean 1) and latency shifts. */
class NoiseProcess {
  private readonly load: Episodes;
  private readonly canaryErrors: Episodes;
  private readonly baselineErrors: Episodes;
  private readonly canaryLatency: Episodes;
  private readonly baselineLatency: Episodes;

  constructor(rng: Random, private readonly n: Noise, startS: number, stepS: number) {
    const e = (sd: number) => new Episodes(rng, sd, n.episodeS, startS, stepS);
    this.load = e(n.load);
    this.canaryErrors = e(n.canaryErrors);
    this.baselineErrors = e(n.baselineErrors);
    this.canaryLatency = e(n.canaryLatency);
    this.baselineLatency = e(n.baselineLatency);
  }

  at(t: number): { load: number; canaryErrors: number; baselineErrors: number; canaryLatency: number; baselineLatency: number } {
    const mean1 = (z: number, sd: number) => Math.exp(z - (sd * sd) / 2);
    return {
      load: mean1(this.load.at(t), this.n.load),
      canaryErrors: mean1(this.canaryErrors.at(t), this.n.canaryErrors),
      baselineErrors: mean1(this.baselineErrors.at(t), this.n.baselineErrors),
      canaryLatency: this.canaryLatency.at(t),
      baselineLatency: this.baselineLatency.at(t),
    };
  }
}

/** Feeds observations to one judge and remembers what it did. */
class JudgeUnderTest {
  readonly run: JudgeRun = { rollbackS: null, promoteS: null, holdS: null, anyRollbackS: null, mismatchS: null, trigger: null };
  private seqState: SequentialState | undefined;
  private thrState: ThresholdState | undefined;
  private stepState: JudgedState | undefined;
  private readonly seqConfig: SequentialConfig | undefined;
  /** A spec judge whose analysis step has ended looks no more. */
  ended = false;

  /** `history`: the baseline's counters at each minute before the first look, as the workflow reads them to calibrate. */
  constructor(readonly spec: JudgeSpec, history: ArmCounters[]) {
    if (spec.kind === 'sequential') {
      const wanted = spec.config.calibrationBatches ?? 0;
      const cal = wanted > 0 ? calibrateNoise(spec.config, history.slice(-(wanted + 1))) : undefined;
      this.seqConfig = cal ? { ...spec.config, noise: cal.noise, latencyNoise: cal.latencyNoise, ...(cal.tailNoise !== undefined ? { tailNoise: cal.tailNoise } : {}) } : spec.config;
    }
    if (spec.kind === 'spec') {
      const analysis = this.judged();
      const wanted = calibrationWanted(analysis);
      this.stepState = wanted > 0 ? calibrate(analysis, initialJudgedState(), { samples: history.slice(-(wanted + 1)) }) : initialJudgedState();
    }
  }

  private judged(): JudgedAnalysis {
    if (this.spec.kind !== 'spec' || !this.spec.analysis.judge) throw new Error(`judge ${this.spec.id} is not a judged analysis step`);
    return { judge: this.spec.analysis.judge, consecutiveErrorLimit: this.spec.analysis.consecutiveErrorLimit, ...(this.spec.analysis.count !== undefined ? { count: this.spec.analysis.count } : {}) };
  }

  look(obs: JudgeObservation, t: number): void {
    if (this.ended) return;
    if (this.spec.kind === 'sequential') {
      const { state, verdict } = sequentialJudge(this.seqConfig!, this.seqState, obs);
      this.seqState = state;
      record(this.run, verdict.decision, t, verdict.evidence.split.mismatch, triggerOf(verdict.evidence));
    } else if (this.spec.kind === 'threshold') {
      const { state, verdict } = thresholdJudge(this.spec.config, this.thrState, obs);
      this.thrState = state;
      const failed = verdict.evidence.lastFailure ?? '';
      record(this.run, verdict.decision, t, false, failed.startsWith('request-duration') ? 'latency' : 'errors');
    } else {
      const { state, decision } = judgeLook(this.judged(), this.stepState!, { at: obs.at, canaryWeight: obs.canaryWeight, counters: { canary: obs.canary, baseline: obs.baseline } });
      this.stepState = state;
      const ev = decision.evidence?.kind === 'sequential' ? decision.evidence.e : undefined;
      if (ev?.split.mismatch && this.run.mismatchS === null) this.run.mismatchS = t;
      if (decision.phase === AnalysisPhase.Failed) record(this.run, 'rollback', t, false, ev ? triggerOf(ev) : 'errors');
      else if (decision.phase === AnalysisPhase.Successful) record(this.run, 'promote', t, false, 'errors');
      else if (decision.phase === AnalysisPhase.Inconclusive) this.run.holdS = t;
      this.ended = decision.phase !== AnalysisPhase.Running;
    }
  }
}

/** The test that carried a sequential verdict: the one with the largest rollback e-value. */
function triggerOf(ev: SequentialEvidence): 'errors' | 'latency' | 'tail' {
  const tests: ['errors' | 'latency' | 'tail', number][] = [['errors', ev.errors.eRollback], ['latency', ev.latency.eRollback]];
  if (ev.tail) tests.push(['tail', ev.tail.eRollback]);
  return tests.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/** Simulates one run of `scenario` and returns what each judge did, in the order given. */
export function simulateRun(scenario: Scenario, timing: Timing, seed: [number, number], judges: JudgeSpec[]): JudgeRun[] {
  const rng = new Random(seed[0], seed[1]);
  const step = timing.scrapeS;
  // Total traffic follows from the canary's nominal rate and configured weight; a broken split
  // moves requests between the arms without changing the total.
  const totalRps = scenario.canaryRps / (scenario.canaryWeight / 100);
  const w = (scenario.actualWeight ?? scenario.canaryWeight) / 100;
  const canaryRps = totalRps * w;
  const baseRps = totalRps * (1 - w);
  const canary = new Arm();
  const baseline = new Arm();
  const noise = new NoiseProcess(rng, scenario.noise, -timing.calibrationMinutes * 60, step);
  const baselineAt = (t: number, z: ReturnType<NoiseProcess['at']>) =>
    armParams(baseRps, scenario.errorRate * z.baselineErrors, scenario.latencyMedianMs, scenario.latencySigma, z.baselineLatency);

  // The baseline has been serving before the canary starts: its counters carry that history. Its
  // last minutes are served with its share of the noise, and read at each minute as a range query
  // would read them for calibration.
  const quietS = Math.max(0, timing.historyS - timing.calibrationMinutes * 60);
  serve(rng, baseline, armParams(baseRps, scenario.errorRate, scenario.latencyMedianMs, scenario.latencySigma, 0), 1, quietS);
  const history: ArmCounters[] = [baseline.counters()];
  for (let t = -timing.calibrationMinutes * 60; t < 0; t += step) {
    const z = noise.at(t);
    serve(rng, baseline, baselineAt(t, z), z.load, step);
    if ((t + step) % 60 === 0) history.push(baseline.counters());
  }

  // A new canary has no series until its first request reaches Prometheus: a scrape or two later.
  const delay = timing.seriesDelayMinS + step * Math.floor(rng.uniform() * ((timing.seriesDelayMaxS - timing.seriesDelayMinS) / step + 1));
  let canaryVisibleFrom: number | null = null;
  const testers = judges.map((j) => new JudgeUnderTest(j, history));
  let scraped = { canary: { requests: 0, errors: 0 } as ArmCounters, baseline: baseline.counters() };
  const look = (t: number) => {
    const obs: JudgeObservation = { at: 1_700_000_000_000 + t * 1000, canaryWeight: scenario.canaryWeight, canary: scraped.canary, baseline: scraped.baseline };
    for (const j of testers) if (t % j.spec.lookS === 0) j.look(obs, t);
  };
  look(0);

  for (let t = 0; t < timing.horizonS; t += step) {
    const z = noise.at(t);
    const canaryP = armParams(canaryRps, scenario.errorRate * scenario.errorFactor * z.canaryErrors, scenario.latencyMedianMs * scenario.latencyFactor, scenario.latencySigma, z.canaryLatency, scenario.tail);
    serve(rng, canary, canaryP, z.load, step);
    serve(rng, baseline, baselineAt(t, z), z.load, step);
    const now = t + step;
    if (canaryVisibleFrom === null && canary.requests > 0) canaryVisibleFrom = now + delay;
    scraped = {
      canary: canaryVisibleFrom !== null && now >= canaryVisibleFrom ? canary.counters() : { requests: 0, errors: 0 },
      baseline: baseline.counters(),
    };
    look(now);
    // A regression run is over once every judge rolled back or ended; A/A runs watch the whole
    // horizon so that rollbacks after an early promotion are seen too.
    if (scenario.kind === 'regression' && testers.every((j) => j.run.anyRollbackS !== null || j.ended)) break;
  }
  return testers.map((j) => j.run);
}

function record(r: JudgeRun, decision: string, t: number, mismatch: boolean, trigger: 'errors' | 'latency' | 'tail'): void {
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
