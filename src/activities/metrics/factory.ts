/**
 * Builds the worker's metrics providers from its settings: one entry per provider, each with the
 * name analyses use for it and its backend type. Another Prometheus (or Thanos, Mimir …) is one more
 * entry; another backend type is one more builder below and one more file like prometheus.ts.
 * Addresses and credentials stay here, in the worker: a spec only ever names a provider.
 */
import type { AxiosInstance } from 'axios';
import { METRICS_PROVIDER_NAME } from '../../domain/spec/analysis';
import { createPrometheusProvider, type PrometheusOptions } from './prometheus';
import type { MetricsProvider, MetricsProviders } from './provider';

/** One provider to build: the name analyses use, the backend type, and that backend's settings. */
export type MetricsProviderSettings = { name: string; type: 'prometheus' } & Omit<PrometheusOptions, 'http'>;

/** What the builders share: the worker's HTTP client (its proxy and TLS settings). */
export interface MetricsProviderDeps {
  http: AxiosInstance;
}

type Builders = { [T in MetricsProviderSettings['type']]: (settings: Extract<MetricsProviderSettings, { type: T }>, deps: MetricsProviderDeps) => MetricsProvider };

const BUILDERS: Builders = {
  prometheus: ({ url, timeoutMs, auth }, { http }) => createPrometheusProvider({ http, url, timeoutMs, auth }),
};

/** Thrown when the worker's provider settings cannot work: a name analyses could not use, or one name twice. */
export class MetricsProviderConfigError extends Error {
  override name = 'MetricsProviderConfigError';
}

/** Builds every configured provider, keyed by name. */
export function createMetricsProviders(settings: readonly MetricsProviderSettings[], deps: MetricsProviderDeps): MetricsProviders {
  const providers = new Map<string, MetricsProvider>();
  for (const s of settings) {
    if (!METRICS_PROVIDER_NAME.test(s.name)) {
      throw new MetricsProviderConfigError(`metrics provider name ${JSON.stringify(s.name)} cannot be named by an analysis: use lowercase letters, digits and "-" (at most 63)`);
    }
    if (providers.has(s.name)) throw new MetricsProviderConfigError(`metrics provider ${JSON.stringify(s.name)} is configured twice`);
    providers.set(s.name, BUILDERS[s.type](s, deps));
  }
  return providers;
}
