/**
 * How a package's contents are chosen (packages/pack.ts): from the files its `bin` names, every
 * `require` and `require.resolve` of the compiled code is followed; each module reached is copied
 * from the compiled tree (`dist/<path>` in the package is `src/<path>` in the repository), and the
 * npm packages they load must be exactly the package's declared dependencies.
 */
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';

/** The package.json fields this script reads and checks. */
export interface PackageManifest {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  dependencies?: Record<string, string>;
}

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

