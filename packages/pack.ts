/**
 * `npm run build:packages -- [--out DIR] [cli] [worker]`: the publishable packages, as the npm
 * tarballs `npm publish` would upload, in DIR (default dist/packages). Each holds the compiled
 * modules its commands can load and nothing else, and declares exactly the npm packages those load,
 * at the root package.json's versions (packages/modules.ts); a problem stops the build, naming the
 * file and the fix. See docs/decisions/0017-runtime-and-packages.md.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeWorkflowBundle } from '../src/worker/bundle';
import { dependencyProblems, PackageError, PackageManifest, stageModules } from './modules';

const ROOT = path.resolve(__dirname, '..');

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
      await writeWorkflowBundle(path.join(stage, 'dist/workflow-bundle.js'));
    },
  },
};

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
