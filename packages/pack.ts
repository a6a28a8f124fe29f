/**
 * `npm run build:packages -- [--out DIR] [cli] [worker]`: the publishable packages, as the npm
 * tarballs `npm publish` would upload, in DIR (default dist/packages).
 *
 * Each package holds the compiled modules its commands can load and nothing else: starting from
 * the files its `bin` names, every `require` and `require.resolve` of the compiled code is
 * followed, and each module reached is copied from the compiled tree (`dist/<path>` in the package
 * is `src/<path>` in the repository). The packages it reaches must be exactly the `dependencies`
 * of packages/<name>/package.json, at the root package.json's versions: a missing, unused or
 * mismatched dependency stops the build, naming the file and the fix. See
 * docs/decisions/0017-runtime-and-packages.md.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** The package.json fields this script reads and checks. */
export interface PackageManifest {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  dependencies?: Record<string, string>;
}

/** One package: its folder under packages/ and what it needs beyond the modules its bins reach. */
interface PackageDef {
  dir: string;
  /** Writes files that are not compiled modules into the staged package (the worker's bundle). */
  extra?(stage: string): Promise<void>;
}

export const PACKAGES: Record<string, PackageDef> = {
  cli: { dir: 'cli' },
  worker: {
    dir: 'worker',
    // The workflow code, prebuilt from the same sources as the activities beside it; bin/ramp-worker.js
    // points RAMP_WORKFLOW_BUNDLE at it (docs/tuning.md: faster start, less memory).
    async extra(stage) {
      // Loaded here, not at the top: the other packages' builds and the unit tests need no webpack.
      const { writeWorkflowBundle } = await import('../src/worker/bundle');
      await writeWorkflowBundle(path.join(stage, 'dist/workflow-bundle.js'));
    },
  },
};

/** What one compiled module loads: relative paths (followed) and package specifiers (dependencies). */
export function moduleRequests(code: string): { relative: string[]; bare: string[] } {
  const relative: string[] = [];
  const bare: string[] = [];
  // tsc's CommonJS output: require("x") for imports, require.resolve("x") where code names a module's path.
  for (const m of code.matchAll(/\brequire(?:\.resolve)?\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1]!;
    (spec.startsWith('.') ? relative : bare).push(spec);
  }
  return { relative, bare };
}

const BUILTINS = new Set(builtinModules);

/** The npm package a specifier names (`@scope/name/deep` → `@scope/name`), or undefined for a Node built-in. */
export function packageNameOf(spec: string): string | undefined {
  if (spec.startsWith('node:') || BUILTINS.has(spec)) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Problems with a package's declared dependencies, given the packages its modules load (name →
 * the files that load it) and the root package.json's dependencies. Empty when they agree exactly.
 */
export function dependencyProblems(manifestFile: string, declared: Record<string, string>, used: Map<string, string[]>, root: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [name, files] of [...used].sort(([a], [b]) => a.localeCompare(b))) {
    const want = root[name];
    if (!(name in declared)) {
      problems.push(`${manifestFile}: "dependencies" lacks ${name}, which ${files.slice(0, 3).join(', ')} load${files.length === 1 ? 's' : ''}: add "${name}": "${want ?? '<version>'}"`);
    } else if (want === undefined) {
      problems.push(`${manifestFile}: dependency ${name} is not in the root package.json's "dependencies": add it there (the repository's tests run against the root's versions)`);
    } else if (declared[name] !== want) {
      problems.push(`${manifestFile}: dependency ${name} is "${declared[name]}" but the root package.json has "${want}": use "${want}", the version the tests ran`);
    }
  }
  for (const name of Object.keys(declared).sort()) {
    if (!used.has(name)) problems.push(`${manifestFile}: dependency ${name} is declared but no module of the package loads it: remove it from "dependencies"`);
  }
  return problems;
}

/** Thrown when a package cannot be staged as declared; the message lists every problem with its fix. */
export class PackageError extends Error {
  override name = 'PackageError';
}

/**
 * Copies into `stage` the package's manifest and README, then every module its bins reach, from
 * `compiled` (tsc's output for src/). Returns the packages those modules load, with who loads them.
 */
export function stageModules(pkgDir: string, manifest: PackageManifest, compiled: string, stage: string): Map<string, string[]> {
  fs.mkdirSync(stage, { recursive: true });
  for (const f of fs.readdirSync(pkgDir)) fs.cpSync(path.join(pkgDir, f), path.join(stage, f), { recursive: true });
  const used = new Map<string, string[]>();
  const seen = new Set<string>();
  const distDir = path.join(stage, 'dist');
  // Where a staged file comes from: dist/<path> of the package is src/<path> of the compiled tree;
  // anything else was copied from packages/<name>/ above.
  const sourceOf = (staged: string) => {
    const rel = path.relative(distDir, staged);
    return rel.startsWith('..') || path.isAbsolute(rel) ? staged : path.join(compiled, 'src', rel);
  };
  // Node's CommonJS resolution of a relative specifier, applied to where the files will be.
  const resolve = (importer: string, spec: string) => {
    const base = path.resolve(path.dirname(importer), spec);
    return [`${base}.js`, path.join(base, 'index.js'), base].find((f) => fs.existsSync(sourceOf(f)) && fs.statSync(sourceOf(f)).isFile());
  };
  const visit = (staged: string, via: string) => {
    if (seen.has(staged)) return;
    seen.add(staged);
    const rel = path.relative(stage, staged);
    const source = sourceOf(staged);
    if (!fs.existsSync(source)) throw new PackageError(`${via} loads ${rel}, which is neither in packages/${path.basename(pkgDir)}/ nor compiled from src/: fix the path`);
    if (source !== staged) {
      fs.mkdirSync(path.dirname(staged), { recursive: true });
      fs.copyFileSync(source, staged);
    }
    const { relative, bare } = moduleRequests(fs.readFileSync(staged, 'utf8'));
    for (const spec of bare) {
      const name = packageNameOf(spec);
      if (name) used.set(name, [...(used.get(name) ?? []), rel]);
    }
    for (const spec of relative) {
      const target = resolve(staged, spec);
      if (!target) throw new PackageError(`${rel} loads ${spec}, which resolves to no module of the package: fix the import`);
      visit(target, rel);
    }
  };
  for (const [cmd, file] of Object.entries(manifest.bin)) visit(path.join(stage, file), `bin ${cmd}`);
  return used;
}

/** What `npm pack --json` reports of one tarball. */
export interface PackResult {
  name: string;
  version: string;
  filename: string;
  /** Bytes of the .tgz. */
  size: number;
  /** Bytes of its files, unpacked. */
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Compiles the repository, stages the named packages and packs each into `out`. */
export async function buildPackages(names: string[], out: string): Promise<PackResult[]> {
  const rootManifest = readJson<{ version: string; dependencies: Record<string, string> }>(path.join(ROOT, 'package.json'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-pack-'));
  try {
    const compiled = path.join(work, 'compiled');
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', compiled, '--sourceMap', 'false'], { stdio: 'inherit' });
    fs.mkdirSync(out, { recursive: true });
    const results: PackResult[] = [];
    for (const name of names) {
      const def = PACKAGES[name];
      if (!def) throw new PackageError(`unknown package ${JSON.stringify(name)}: choose from ${Object.keys(PACKAGES).join(', ')}`);
      const pkgDir = path.join(ROOT, 'packages', def.dir);
      const manifestFile = `packages/${def.dir}/package.json`;
      const manifest = readJson<PackageManifest>(path.join(pkgDir, 'package.json'));
      const problems: string[] = [];
      if (manifest.version !== rootManifest.version) problems.push(`${manifestFile}: "version" is ${manifest.version} but the root package.json's is ${rootManifest.version}: release both at one version`);
      const stage = path.join(work, def.dir);
      const used = stageModules(pkgDir, manifest, compiled, stage);
      problems.push(...dependencyProblems(manifestFile, manifest.dependencies ?? {}, used, rootManifest.dependencies));
      if (problems.length > 0) throw new PackageError(`${manifest.name} cannot be packed (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
      await def.extra?.(stage);
      const [result] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', path.resolve(out)], { cwd: stage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as PackResult[];
      if (!result) throw new PackageError(`npm pack printed no result for ${manifest.name}`);
      results.push(result);
    }
    return results;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

async function main(argv: string[]): Promise<void> {
  let out = path.join(ROOT, 'dist/packages');
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') {
      const dir = argv[++i];
      if (!dir) throw new PackageError('--out needs a directory, e.g. --out dist/packages');
      out = path.resolve(dir);
    } else names.push(argv[i]!);
  }
  const results = await buildPackages(names.length > 0 ? names : Object.keys(PACKAGES), out);
  for (const r of results) {
    console.log(`${r.name}@${r.version}: ${path.join(out, r.filename)} — ${kib(r.size)} packed, ${kib(r.unpackedSize)} unpacked, ${r.entryCount} files`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`build:packages: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
