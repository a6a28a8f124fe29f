/**
 * The version `ramp --version` prints: the one in the package.json nearest above this file — the
 * published package's own when installed from npm, the repository's in a checkout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The `version` of the first package.json found walking up from `dir`. */
export function packageVersion(dir: string = __dirname): string {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const file = path.join(d, 'package.json');
    if (fs.existsSync(file)) {
      const version = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version;
      if (typeof version !== 'string') throw new Error(`${file} has no "version" field: add one, e.g. "version": "0.1.0"`);
      return version;
    }
    if (path.dirname(d) === d) throw new Error(`no package.json above ${dir}: run ramp from its installed package or the repository`);
  }
}
