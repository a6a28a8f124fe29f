/**
 * Where a relative path the user typed points. `npm run ramp -- -f rollout.yaml` runs the CLI in
 * the package root, not where the user typed it; npm keeps that directory in INIT_CWD.
 */
import * as path from 'node:path';

/**
 * The directory relative paths are resolved against: INIT_CWD when npm (or yarn, pnpm) moved the
 * process to the package root, else the working directory. A script that changes directory itself
 * (`cd deploy && ramp start -f rollout.yaml`) keeps its own directory: npm names the package.json it
 * ran from, and the working directory is then elsewhere.
 */
export function userDir(env: NodeJS.ProcessEnv, cwd: string): string {
  const init = env.INIT_CWD;
  if (!init) return cwd;
  const pkg = env.npm_package_json;
  if (pkg && path.resolve(path.dirname(pkg)) !== path.resolve(cwd)) return cwd;
  return init;
}

/** A path from a flag or KUBECONFIG, absolute: relative ones against the user's directory. */
export function userPath(p: string, env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(userDir(env, cwd), p);
}
