import { userDir, userPath } from '../../../../src/client/cli/paths';

describe('userDir: relative paths are the user\'s, not the package root npm moved to', () => {
  const table: { what: string; env: NodeJS.ProcessEnv; cwd: string; dir: string }[] = [
    { what: 'plain shell: the working directory', env: {}, cwd: '/home/u/app', dir: '/home/u/app' },
    { what: 'npm run ramp from a subdirectory: INIT_CWD', env: { INIT_CWD: '/repo/deploy', npm_package_json: '/repo/package.json' }, cwd: '/repo', dir: '/repo/deploy' },
    { what: 'npx ramp where the user stands: the same directory either way', env: { INIT_CWD: '/home/u/app', npm_package_json: '/home/u/app/package.json' }, cwd: '/home/u/app', dir: '/home/u/app' },
    { what: 'a script that cd\'s itself before calling ramp: its own directory', env: { INIT_CWD: '/repo', npm_package_json: '/repo/package.json' }, cwd: '/repo/deploy', dir: '/repo/deploy' },
    { what: 'a runner that sets INIT_CWD only (yarn, pnpm): INIT_CWD', env: { INIT_CWD: '/repo/deploy' }, cwd: '/repo', dir: '/repo/deploy' },
    { what: 'an empty INIT_CWD counts as unset', env: { INIT_CWD: '' }, cwd: '/repo', dir: '/repo' },
  ];
  it.each(table)('$what', ({ env, cwd, dir }) => {
    expect(userDir(env, cwd)).toBe(dir);
  });

  it('resolves relative paths against it and leaves absolute ones alone', () => {
    const env = { INIT_CWD: '/repo/deploy', npm_package_json: '/repo/package.json' };
    expect(userPath('rollout.yaml', env, '/repo')).toBe('/repo/deploy/rollout.yaml');
    expect(userPath('../kube/config', env, '/repo')).toBe('/repo/kube/config');
    expect(userPath('/etc/ramp/rollout.yaml', env, '/repo')).toBe('/etc/ramp/rollout.yaml');
  });
});
