import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../../../src/client/cli/main';
import { packageVersion } from '../../../../src/client/cli/version';

describe('ramp --version', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ramp-version-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads the nearest package.json above the code, as an installed package has it', () => {
    fs.mkdirSync(path.join(tmp, 'pkg/dist/client/cli'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'pkg/package.json'), JSON.stringify({ name: '@x/cli', version: '3.2.1' }));
    expect(packageVersion(path.join(tmp, 'pkg/dist/client/cli'))).toBe('3.2.1');
  });

  it('names the file and the fix when that package.json has no version', () => {
    fs.mkdirSync(path.join(tmp, 'bad/lib'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'bad/package.json'), '{}');
    expect(() => packageVersion(path.join(tmp, 'bad/lib'))).toThrow(/bad\/package\.json has no "version" field: add one/);
  });

  it.each([['--version'], ['-V'], ['version']])('%s prints the repository version and exits 0', async (arg) => {
    const root = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../../package.json'), 'utf8')) as { version: string };
    const printed: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (printed.push(String(s)), true));
    try {
      expect(await run([arg], {})).toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(printed.join('').trim()).toBe(root.version);
  });
});
