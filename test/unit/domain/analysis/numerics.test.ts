import { batchLogLikelihood, histogramQuantile, logGamma, shareAt, shareMoments } from '../../../../src/domain/analysis/numerics';

describe('numerics', () => {
  it.each<[number, number]>([
    [1, 0],
    [2, 0],
    [0.5, 0.5723649429247004],
    [10, 12.801827480081467],
    [0.01, 4.599479878042022],
    [123.456, 469.60554712992956],
    [1e6, 12815504.569147611],
  ])('logGamma(%p) = %p', (x, expected) => {
    expect(logGamma(x)).toBeCloseTo(expected, 10);
  });

  it.each<[number, number, number]>([
    [1, 0.1, 0.1],
    [2, 0.5, 2 / 3],
    [10, 0.1, 1 / 1.9],
    [0.5, 0.2, 0.1 / 0.9],
  ])('shareAt(ρ %p, π₀ %p) = %p', (ratio, p0, expected) => {
    expect(shareAt(ratio, p0)).toBeCloseTo(expected, 12);
  });

  it('without noise, a batch likelihood is the binomial one: 3 of 10 events at share 0.4', () => {
    // π(2) at π₀ = 0.25 is 0.5 / 1.25 = 0.4; 3·ln 0.4 + 7·ln 0.6
    expect(batchLogLikelihood(3, 7, 0.25, 2, 0)).toBeCloseTo(-6.3246515619844, 12);
  });

  it('with noise, the share keeps its mean at π₀ = ½ and rises above a small π₀', () => {
    expect(shareMoments(1, 0.5, 0.5).mean).toBeCloseTo(0.5, 12);
    expect(shareMoments(1, 0.1, 0.5).mean).toBeGreaterThan(0.1);
    expect(shareMoments(1, 0.1, 0).variance).toBe(0);
  });

  it('with noise, moments match a fine numerical integral and the batch likelihood is their beta-binomial', () => {
    // Reference: 20,001-point integral over z ∈ [−10, 10] and the beta-binomial with that mean and variance.
    const m = shareMoments(2, 0.1, 0.5);
    expect(m.mean).toBeCloseTo(0.19307861038937227, 9);
    expect(m.variance).toBeCloseTo(0.005851002421486708, 9);
    expect(batchLogLikelihood(7, 20, 0.1, 2, 0.5)).toBeCloseTo(-16.045861315272575, 8);
  });

  it('a vanishing noise gives back the binomial', () => {
    expect(batchLogLikelihood(30, 270, 0.1, 1.5, 1e-6) - batchLogLikelihood(30, 270, 0.1, 1, 1e-6))
      .toBeCloseTo(batchLogLikelihood(30, 270, 0.1, 1.5, 0) - batchLogLikelihood(30, 270, 0.1, 1, 0), 4);
  });
});

describe('histogramQuantile (Prometheus semantics)', () => {
  const le = [100, 250, 500];
  it.each<[number, number[], number]>([
    [0.5, [50, 95, 99, 100], 100],
    [0.25, [50, 95, 99, 100], 50],
    [0.99, [50, 95, 99, 100], 500],
    [0.97, [50, 95, 99, 100], 375],
    [0.995, [50, 95, 99, 100], 500],
    [0.99, [0, 0, 0, 10], 500],
  ])('q %p of %p → %p', (q, cumulative, expected) => {
    expect(histogramQuantile(q, le, cumulative)).toBeCloseTo(expected, 9);
  });

  it('is NaN without observations', () => {
    expect(histogramQuantile(0.99, le, [0, 0, 0, 0])).toBeNaN();
  });
});
