#!/usr/bin/env node
// Runs the test suite with node's built-in runner (through tsx): every test/**/*.test.ts, or only
// the unit tests (`unit`: all but test/integration) or only integration tests (`integration`).
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const which = process.argv[2] ?? 'all';
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
})('test');
const picked = files.filter((f) => {
  const integ = f.startsWith(join('test', 'integration'));
  return which === 'all' ? true : which === 'unit' ? !integ : integ;
});
if (picked.length === 0) {
  console.error(`no test files found for "${which}"`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...picked], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
