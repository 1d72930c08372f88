// The text `chain init` writes: chain.example.yaml from the package root, so the reference and
// the starter are one file. The root is found by walking up to package.json, which works from
// src/config/ (tsx), from dist/src/config/ (tsc) and from dist/cli/ (the bundle) alike.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChainError } from '../core/errors.js';

export const EXAMPLE_FILE = 'chain.example.yaml';

export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: is chain installed completely?`);
  }
}

export function starterConfigText(root: string = packageRoot()): string {
  const file = join(root, EXAMPLE_FILE);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // an install that left the reference out (a hand-made image, a trimmed package): say what is missing
    throw new ChainError(`cannot read ${file}, the starter config chain init writes: ${(err as Error).message}`, {
      cause: err,
      hint: `this install of chain is incomplete: reinstall the package, or copy ${EXAMPLE_FILE} from its source into ${root}`,
    });
  }
}
