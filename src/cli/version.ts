// chain's version, from the package.json of chain's own package. Left to itself yargs guesses it
// from where its own module sits, which in the bundle (dist/cli/) finds no package.json, or the
// current directory's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/starter.js';

export function chainVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
