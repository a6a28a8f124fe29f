import { loadWorkerConfig, WorkerConfigError } from '../../../src/worker/config';

describe('loadWorkerConfig', () => {
  it('fills defaults for an empty environment', () => {
    const c = loadWorkerConfig({});
    expect(c).toMatchObject({
      TEMPORAL_ADDRESS: 'localhost:7233',
      TEMPORAL_NAMESPACE: 'default',
      RAMP_TASK_QUEUE: 'ramp',
      RAMP_PROMETHEUS_URL: 'http://127.0.0.1:9090',
      RAMP_MAX_CONCURRENT_ACTIVITIES: 100,
    });
    expect(c.KUBECONFIG).toBeUndefined();
  });

  it('reads and coerces every setting it is given', () => {
    const c = loadWorkerConfig({
      TEMPORAL_ADDRESS: 'temporal.prod:7233',
      TEMPORAL_NAMESPACE: 'deploys',
      RAMP_TASK_QUEUE: 'ramp-eu',
      KUBECONFIG: '/kube/config',
      RAMP_PROMETHEUS_URL: 'https://prom.example:9090',
      RAMP_MAX_CONCURRENT_ACTIVITIES: '20',
      RAMP_MAX_CACHED_WORKFLOWS: '0',
      RAMP_MAX_CONCURRENT_WORKFLOW_TASKS: '80',
      RAMP_WORKFLOW_BUNDLE: '/app/dist/workflow-bundle.js',
    });
    expect(c.RAMP_MAX_CONCURRENT_WORKFLOW_TASKS).toBe(80);
    expect(c.RAMP_WORKFLOW_BUNDLE).toBe('/app/dist/workflow-bundle.js');
    expect(c.RAMP_MAX_CONCURRENT_ACTIVITIES).toBe(20);
    expect(c.RAMP_MAX_CACHED_WORKFLOWS).toBe(0);
    expect(c.KUBECONFIG).toBe('/kube/config');
  });

  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['address without a port', { TEMPORAL_ADDRESS: 'temporal' }, /TEMPORAL_ADDRESS: must be host:port.*\(got "temporal"\)/],
    ['address with a scheme', { TEMPORAL_ADDRESS: 'http://temporal:7233' }, /TEMPORAL_ADDRESS: must be host:port/],
    ['Prometheus URL not http', { RAMP_PROMETHEUS_URL: 'file:///etc/passwd' }, /RAMP_PROMETHEUS_URL: must be an http\(s\) URL/],
    ['Prometheus URL not a URL', { RAMP_PROMETHEUS_URL: 'prometheus:9090' }, /RAMP_PROMETHEUS_URL/],
    ['activity concurrency zero', { RAMP_MAX_CONCURRENT_ACTIVITIES: '0' }, /RAMP_MAX_CONCURRENT_ACTIVITIES/],
    ['activity concurrency not a number', { RAMP_MAX_CONCURRENT_ACTIVITIES: 'many' }, /RAMP_MAX_CONCURRENT_ACTIVITIES.*\(got "many"\)/],
    ['one workflow-task slot', { RAMP_MAX_CONCURRENT_WORKFLOW_TASKS: '1' }, /RAMP_MAX_CONCURRENT_WORKFLOW_TASKS: must be a whole number ≥ 2/],
    ['client cert without key', { TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' }, /TEMPORAL_TLS_CLIENT_KEY_PATH: set both/],
    ['TLS flag not boolean', { TEMPORAL_TLS: 'yes' }, /TEMPORAL_TLS/],
  ];
  it.each(bad)('rejects %s, naming the variable', (_name, env, message) => {
    expect(() => loadWorkerConfig(env)).toThrow(WorkerConfigError);
    expect(() => loadWorkerConfig(env)).toThrow(message);
  });

  it('lists every problem at once', () => {
    expect(() => loadWorkerConfig({ TEMPORAL_ADDRESS: 'x', RAMP_TASK_QUEUE: '' })).toThrow(/TEMPORAL_ADDRESS[\s\S]*RAMP_TASK_QUEUE/);
  });
});
