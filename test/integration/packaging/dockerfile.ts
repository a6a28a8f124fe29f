/**
 * Replays a Dockerfile without a container engine: each stage's filesystem is a folder, COPY
 * copies from the build context (filtered by .dockerignore) or from another stage's folder, RUN
 * runs its shell command in the stage's folder with every absolute path in it moved into that
 * folder, and mounts of another stage are copies. It knows the instructions Ramp's Dockerfile uses
 * and refuses any other, so a change to the Dockerfile that the replay cannot follow fails loudly
 * instead of being skipped.
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
  final: { root: string; env: Record<string, string>; user?: string; workdir: string; entrypoint?: string[] };
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
          for (const flag of step.flags) {
            const mount = /^--mount=(.*)$/.exec(flag)?.[1];
            if (!mount) throw new Error(`${at(step)}: the replay knows only RUN --mount`);
            const o = Object.fromEntries(mount.split(',').map((kv) => kv.split('=') as [string, string]));
            // A cache mount keeps npm's cache out of the layers; here the machine's own cache plays it.
            if (o.type === 'cache') continue;
            if (o.type !== 'bind' || !o.from || !o.source || !o.target) throw new Error(`${at(step)}: the replay knows cache mounts and bind mounts from a stage, not ${mount}`);
            fs.cpSync(path.join(roots.get(o.from) ?? '', o.source), inRoot(o.target), { recursive: true });
          }
          // Absolute paths name the image's filesystem: move them into the stage's folder.
          const command = step.rest.split(/\s+/).map((w) => (w.startsWith('/') ? inRoot(w) : w)).join(' ');
          log(`[replay] ${stage.name}: RUN ${step.rest}`);
          try {
            execFileSync('sh', ['-c', command], { cwd: inRoot(workdir), env: { ...runEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
          } catch (err) {
            const e = err as { status?: number; stdout?: string; stderr?: string };
            throw new Error(`${at(step)} exited ${e.status}:\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`, { cause: err });
          }
          break;
        }
        default:
          throw new Error(`${at(step)}: the replay does not know ${step.op}; extend test/integration/packaging/dockerfile.ts or keep the step inside packages/worker/image.sh`);
      }
    }
    final = { root, env, user, workdir, entrypoint };
  }
  if (!final) throw new Error('the Dockerfile has no FROM');
  return { roots, final };
}
