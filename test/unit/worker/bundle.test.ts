import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readWorkflowBundle } from '../../../src/worker/bundle';

describe('readWorkflowBundle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-bundle-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('returns the code of a bundle', () => {
    const f = write('ok.js', 'var __TEMPORAL__; /* … */');
    expect(readWorkflowBundle(f, 'RAMP_WORKFLOW_BUNDLE').code).toContain('__TEMPORAL__');
  });

  const bad: [string, () => string, RegExp][] = [
    ['a missing file: names the setting, the error and the build command', () => path.join(dir, 'missing.js'), /^RAMP_WORKFLOW_BUNDLE: cannot read the workflow bundle .*missing\.js \(ENOENT\); build it with `npm run build:bundle -- .*missing\.js`/],
    ['a file that is not a bundle', () => write('other.js', 'console.log(1)'), /^RAMP_WORKFLOW_BUNDLE: .*other\.js is not a Temporal workflow bundle; build it with `npm run build:bundle/],
  ];
  it.each(bad)('refuses %s', (_what, file, message) => {
    expect(() => readWorkflowBundle(file(), 'RAMP_WORKFLOW_BUNDLE')).toThrow(message);
  });
});
