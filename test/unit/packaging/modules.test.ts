import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dependencyProblems, moduleRequests, packageNameOf, PackageError, stageModules } from '../../../packages/modules';

describe('moduleRequests: what a compiled CommonJS module loads', () => {
  it('finds require and require.resolve, relative and package specifiers apart', () => {
    const code = [
      'const a = require("./a");',
      "const k = __importStar(require('@kubernetes/client-node'));",
      'const w = require.resolve("../workflows");',
      'const fs = require("node:fs");',
    ].join('\n');
    expect(moduleRequests(code)).toEqual({ relative: ['./a', '../workflows'], bare: ['@kubernetes/client-node', 'node:fs'] });
  });
});

describe('packageNameOf', () => {
  it.each([
    ['yaml', 'yaml'],
    ['@temporalio/client', '@temporalio/client'],
    ['@temporalio/common/lib/converter', '@temporalio/common'],
    ['lodash/fp', 'lodash'],
    ['node:fs', undefined],
    ['fs', undefined],
    ['child_process', undefined],
  ])('%s → %s', (spec, name) => {
    expect(packageNameOf(spec)).toBe(name);
  });
});

describe('dependencyProblems: the declared dependencies are exactly what the modules load, at the root versions', () => {
  const root = { yaml: '2.9.1', zod: '4.6.7', axios: '1.21.1' };
  const used = new Map([['yaml', ['dist/a.js']], ['zod', ['dist/a.js', 'dist/b.js']]]);

  it('agrees: no problem', () => {
    expect(dependencyProblems('packages/x/package.json', { yaml: '2.9.1', zod: '4.6.7' }, used, root)).toEqual([]);
  });

  it('names each missing, unused, unknown or mismatched dependency with its fix', () => {
    const problems = dependencyProblems('packages/x/package.json', { yaml: '2.9.0', axios: '1.21.1' }, new Map([...used, ['left-pad', ['dist/c.js']]]), root);
    expect(problems).toEqual([
      'packages/x/package.json: "dependencies" lacks left-pad, which dist/c.js loads: add "left-pad": "<version>"',
      'packages/x/package.json: dependency yaml is "2.9.0" but the root package.json has "2.9.1": use "2.9.1", the version the tests ran',
      'packages/x/package.json: "dependencies" lacks zod, which dist/a.js, dist/b.js load: add "zod": "4.6.7"',
      'packages/x/package.json: dependency axios is declared but no module of the package loads it: remove it from "dependencies"',
    ]);
  });
});

describe('stageModules: a package gets the modules its bins reach, and nothing else', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-stage-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  };
  const compiled = path.join(tmp, 'compiled');
  write(path.join(compiled, 'src/cli/main.js'), 'require("../shared"); require("yaml"); require("node:os");');
  write(path.join(compiled, 'src/shared/index.js'), 'require("./ids"); require.resolve("../workflows");');
  write(path.join(compiled, 'src/shared/ids.js'), 'require("zod");');
  write(path.join(compiled, 'src/workflows/index.js'), 'require("@temporalio/workflow");');
  write(path.join(compiled, 'src/unused/big.js'), 'require("webpack");');

  it('follows require and require.resolve from the bin, copying each module under dist/', () => {
    const pkgDir = path.join(tmp, 'pkg');
    write(path.join(pkgDir, 'package.json'), '{}');
    const stage = path.join(tmp, 'stage');
    const used = stageModules(pkgDir, { name: 'x', version: '0', bin: { x: 'dist/cli/main.js' }, files: ['dist'] }, compiled, stage);
    expect([...used.keys()].sort()).toEqual(['@temporalio/workflow', 'yaml', 'zod']);
    const staged = fs.readdirSync(stage, { recursive: true }).map(String).filter((f) => f.endsWith('.js')).sort();
    expect(staged).toEqual(['dist/cli/main.js', 'dist/shared/ids.js', 'dist/shared/index.js', 'dist/workflows/index.js']);
  });

  it('stops at an import that resolves to nothing, naming it', () => {
    write(path.join(compiled, 'src/broken/main.js'), 'require("./missing");');
    const pkgDir = path.join(tmp, 'pkg2');
    write(path.join(pkgDir, 'package.json'), '{}');
    expect(() => stageModules(pkgDir, { name: 'y', version: '0', bin: { y: 'dist/broken/main.js' }, files: ['dist'] }, compiled, path.join(tmp, 'stage2')))
      .toThrow(new PackageError('dist/broken/main.js loads ./missing, which resolves to no module of the package: fix the import'));
  });
});
