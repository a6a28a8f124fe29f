import * as path from 'node:path';
import { DEFAULT_PORTS, loadStackConfig, statePaths } from '../../../scripts/stack/config';

describe('loadStackConfig', () => {
  it('uses loopback and the default ports', () => {
    const c = loadStackConfig({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.ports).toEqual(DEFAULT_PORTS);
    expect(new Set(Object.values(c.ports)).size).toBe(Object.keys(c.ports).length);
  });

  it('moves any port with RAMP_PORT_<NAME>', () => {
    const c = loadStackConfig({ RAMP_PORT_TEMPORAL: '17233', RAMP_PORT_TEMPORAL_UI: '18233', RAMP_PORT_APISERVER: '26443' });
    expect(c.ports.temporal).toBe(17233);
    expect(c.ports.temporalUi).toBe(18233);
    expect(c.ports.apiserver).toBe(26443);
    expect(c.ports.etcd).toBe(DEFAULT_PORTS.etcd);
  });

  it.each([['0'], ['70000'], ['80a'], ['-1']])('rejects port %s naming the variable', (v) => {
    expect(() => loadStackConfig({ RAMP_PORT_PROMETHEUS: v })).toThrow(`RAMP_PORT_PROMETHEUS="${v}": must be a TCP port`);
  });

  it('keeps all state under one directory', () => {
    const c = loadStackConfig({ RAMP_STATE_DIR: '/tmp/ramp-state-x' });
    for (const p of Object.values(statePaths(c))) expect(p.startsWith('/tmp/ramp-state-x')).toBe(true);
    expect(path.isAbsolute(c.cacheDir)).toBe(true);
  });

  it('bounds the node count', () => {
    expect(() => loadStackConfig({ RAMP_STACK_NODES: '0' })).toThrow(/RAMP_STACK_NODES/);
    expect(loadStackConfig({ RAMP_STACK_NODES: '3' }).nodes).toBe(3);
  });
});
