// The text `chain init` writes: chain.example.yaml from the package root, so the reference and
// the starter are one file. The root is found by walking up to package.json, which works from
// src/config/ (tsx), from dist/src/config/ (tsc) and from dist/cli/ (the bundle) alike.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLE_FILE = 'chain.example.yaml';

export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: is chain installed completely?`);
  }
}

export function starterConfigText(): string {
  return readFileSync(join(packageRoot(), EXAMPLE_FILE), 'utf8');
}
