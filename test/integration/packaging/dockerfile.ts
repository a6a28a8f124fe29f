/**
 * Replays a Dockerfile without a container engine: each stage's filesystem is a folder, COPY
 * copies from the build context (filtered by .dockerignore) or from another stage's folder, RUN
 * runs its shell command in the stage's folder with every absolute path in it moved into that
 * folder, and mounts are copies. It knows the instructions Ramp's Dockerfile uses and refuses any
 * other, so a change to the Dockerfile that the replay cannot follow fails loudly instead of being
 * skipped.
 *
 * A RUN must be a step of packages/worker/image.sh: a command of its own would run on this machine,
 * as the user running the tests (root on CI), outside any folder. Of those steps, `system` installs
 * Debian packages into the base image's system folders, which a folder cannot stand in for (apt and
 * dpkg act on the machine). The replay runs it as `image.sh system --simulate` instead: apt resolves
 * the same packages against this machine's Debian lists, and the machine must have every one of them
 * installed, on the base image's Debian release, because the replayed stage runs this machine's
 * /usr/bin (its git, its ssh) where the image would run its own.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Instruction {
  /** Line number in the Dockerfile, for messages. */
  line: number;
  op: string;
  /** Leading --flag=value options (COPY --from, RUN --mount). */
  flags: string[];
  /** The rest of the instruction, ARGs substituted. */
  rest: string;
}

export interface Stage {
  name: string;
  base: string;
  steps: Instruction[];
}

/** Stages and their instructions; ARG defaults declared before the first FROM are substituted. */
export function parseDockerfile(text: string): Stage[] {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let l = lines[i]!.trim();
    if (l === '' || l.startsWith('#')) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = l.slice(0, -1) + ' ' + lines[++i]!.trim();
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile line ${lineNo}: cannot parse ${JSON.stringify(l)}`);
    const op = m[1]!.toUpperCase();
    let rest = m[2]!.replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const v = args.get(name);
      if (v === undefined) throw new Error(`Dockerfile line ${lineNo}: \${${name}} has no ARG default: declare ARG ${name}=… before it`);
      return v;
    });
    const flags: string[] = [];
    for (let f = /^(--\S+)\s+/.exec(rest); f; f = /^(--\S+)\s+/.exec(rest)) {
      flags.push(f[1]!);
      rest = rest.slice(f[0].length);
    }
    if (op === 'ARG') {
      const [name, value] = rest.split('=');
      if (value !== undefined) args.set(name!, value);
    } else if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!f) throw new Error(`Dockerfile line ${lineNo}: FROM ${rest}: expected FROM IMAGE [AS NAME]`);
      stages.push({ name: f[2] ?? String(stages.length), base: f[1]!, steps: [] });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`Dockerfile line ${lineNo}: ${op} before any FROM`);
      stage.steps.push({ line: lineNo, op, flags, rest });
    }
  }
  return stages;
}

/** Glob → RegExp for .dockerignore patterns (`**` spans folders, `*` and `?` do not). */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether `rel` (a path in the build context) is left out by .dockerignore: the last pattern that
 * matches the path or one of its parent folders decides; `!` patterns put a path back.
 */
export function ignoredBy(patterns: string[], rel: string): boolean {
  const parts = rel.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = globRegExp((negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, ''));
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

export function readDockerignore(context: string): string[] {
  const file = path.join(context, '.dockerignore');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** What a replay leaves: each stage's folder, and the final stage's settings. */
export interface Replayed {
  roots: Map<string, string>;
  final: {
    root: string;
    env: Record<string, string>;
    user?: string;
    workdir: string;
    entrypoint?: string[];
    /** The Debian packages its `image.sh system` step installs, each with the version this machine has (the one the replayed stage runs). */
    packages: Record<string, string>;
  };
}

/** The steps of packages/worker/image.sh the replay runs as they are; `system` it simulates (see the top of this file). */
const RUN_AS_IS = ['deps', 'pack', 'install'];

/** The Debian release a base image's tag names (node:24-bookworm-slim: bookworm), or undefined. */
function debianRelease(base: string): string | undefined {
  const words = (base.split(':')[1] ?? '').split('-').filter((w) => !/^[\d.]+$/.test(w) && w !== 'slim');
  return words.length === 1 ? words[0] : undefined;
}

/**
 * Checks an `image.sh system` step against this machine: same Debian release as the stage's base
 * image, and every package the step installs (listed by `simulate`, which runs the step with
 * --simulate) installed here. Returns the packages with this machine's versions.
 */
function checkSystemPackages(simulate: () => string, base: string, where: string): Record<string, string> {
  const image = debianRelease(base);
  const osRelease = fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '';
  const here = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1];
  if (!image || here !== image) {
    throw new Error(`${where}: installs Debian packages into ${base} (Debian ${image ?? 'of a release its tag does not name'}); the replay runs this machine's packages instead, so this machine must run the same release, and it runs ${here ?? 'no Debian'}`);
  }
  const packages: Record<string, string> = {};
  for (const line of simulate().split('\n').filter(Boolean)) {
    const [name, version, status] = line.split(' ');
    if (status !== 'installed') {
      throw new Error(`${where}: the image gets the Debian package ${name} and this machine ${status ? `has it ${status}` : 'does not have it'}, but the replayed stage runs this machine's: list it with the image's packages in stack/install.sh`);
    }
    packages[name!] = version!;
  }
  if (Object.keys(packages).length === 0) throw new Error(`${where}: image.sh system --simulate listed no package`);
  return packages;
}

/** Replays `stages` with `context` as the build context, each stage's filesystem in a folder under `into`. */
export function replayDockerfile(stages: Stage[], context: string, into: string, runEnv: NodeJS.ProcessEnv, log: (line: string) => void): Replayed {
  const ignore = readDockerignore(context);
  const roots = new Map<string, string>();
  let final: Replayed['final'] | undefined;
  for (const stage of stages) {
    const root = path.join(into, `stage-${stage.name}`);
    fs.mkdirSync(root, { recursive: true });
    roots.set(stage.name, root);
    const inRoot = (p: string) => path.join(root, p);
    const env: Record<string, string> = {};
    let workdir = '/';
    let user: string | undefined;
    let entrypoint: string[] | undefined;
    let packages: Record<string, string> = {};
    const at = (s: Instruction) => `Dockerfile line ${s.line} (${s.op} ${s.rest})`;
    for (const step of stage.steps) {
      switch (step.op) {
        case 'WORKDIR':
          workdir = path.posix.resolve(workdir, step.rest);
          fs.mkdirSync(inRoot(workdir), { recursive: true });
          break;
        case 'ENV': {
          const [k, ...v] = step.rest.split('=');
          env[k!] = v.join('=');
          break;
        }
        case 'USER':
          user = step.rest;
          break;
        case 'EXPOSE':
        case 'LABEL':
          // Metadata only: nothing in the filesystem changes.
          break;
        case 'ENTRYPOINT':
          entrypoint = JSON.parse(step.rest) as string[];
          break;
        case 'COPY': {
          const from = step.flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
          if (step.flags.some((f) => !f.startsWith('--from='))) throw new Error(`${at(step)}: the replay knows only COPY --from`);
          const parts = step.rest.split(/\s+/);
          const dest = path.posix.resolve(workdir, parts.pop()!);
          for (const src of parts) {
            const source = from ? path.join(roots.get(from) ?? '', src) : path.join(context, src);
            if (!fs.existsSync(source)) throw new Error(`${at(step)}: ${src} does not exist${from ? ` in stage ${from}` : ' in the build context'}`);
            const intoDir = step.rest.trimEnd().endsWith('/') || parts.length > 1 || fs.statSync(source).isDirectory();
            const target = inRoot(intoDir && !fs.statSync(source).isDirectory() ? path.posix.join(dest, path.basename(src)) : dest);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.cpSync(source, target, {
              recursive: true,
              // The build context is what .dockerignore leaves: a COPY cannot see the rest.
              filter: (f) => from !== undefined || !ignoredBy(ignore, path.relative(context, f).split(path.sep).join('/') || '.'),
            });
          }
          break;
        }
        case 'RUN': {
          const script = /^sh\s+(\S*image\.sh)\s+(\w+)(?:\s|$)/.exec(step.rest);
          if (!script || ![...RUN_AS_IS, 'system'].includes(script[2]!)) {
            throw new Error(`${at(step)}: the replay runs only the steps of packages/worker/image.sh (${RUN_AS_IS.join(', ')}; system simulated): put the command into a step there, and teach this file how to replay a new step`);
          }
          for (const flag of step.flags) {
            const mount = /^--mount=(.*)$/.exec(flag)?.[1];
            if (!mount) throw new Error(`${at(step)}: the replay knows only RUN --mount`);
            const o = Object.fromEntries(mount.split(',').map((kv) => kv.split('=') as [string, string]));
            // A cache mount keeps npm's cache out of the layers; here the machine's own cache plays it.
            if (o.type === 'cache') continue;
            if (o.type !== 'bind' || !o.source || !o.target) throw new Error(`${at(step)}: the replay knows cache mounts and bind mounts, not ${mount}`);
            // Without `from`, a bind mount shows the build context, as much of it as .dockerignore leaves.
            if (!o.from && ignoredBy(ignore, path.posix.normalize(o.source))) throw new Error(`${at(step)}: ${o.source} is left out of the build context by .dockerignore`);
            fs.cpSync(o.from ? path.join(roots.get(o.from) ?? '', o.source) : path.join(context, o.source), inRoot(o.target), { recursive: true });
          }
          // Absolute paths name the image's filesystem: move them into the stage's folder.
          const command = step.rest.split(/\s+/).map((w) => (w.startsWith('/') ? inRoot(w) : w)).join(' ');
          const run = (cmd: string) => {
            log(`[replay] ${stage.name}: ${cmd === command ? `RUN ${step.rest}` : `RUN ${step.rest}, simulated as ${cmd}`}`);
            try {
              return execFileSync('sh', ['-c', cmd], { cwd: inRoot(workdir), env: { ...runEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
            } catch (err) {
              const e = err as { status?: number; stdout?: string; stderr?: string };
              throw new Error(`${at(step)} exited ${e.status}:\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`, { cause: err });
            }
          };
          if (script[2] === 'system') {
            if (step.rest !== script[0]) throw new Error(`${at(step)}: the replay simulates \`image.sh system\` without arguments only`);
            packages = { ...packages, ...checkSystemPackages(() => run(`${command} --simulate`), stage.base, at(step)) };
          } else run(command);
          break;
        }
        default:
          throw new Error(`${at(step)}: the replay does not know ${step.op}; extend test/integration/packaging/dockerfile.ts or keep the step inside packages/worker/image.sh`);
      }
    }
    final = { root, env, user, workdir, entrypoint, packages };
  }
  if (!final) throw new Error('the Dockerfile has no FROM');
  return { roots, final };
}
