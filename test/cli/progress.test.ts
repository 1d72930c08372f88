// createProgress (cli/progress.ts): plain log lines off a TTY; on a TTY a spinner whose library is
// loaded in the background, so a stop that comes first still prints its line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress } from '../../src/cli/progress.js';
import type { Logger } from '../../src/core/log.js';

function capture(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(`info ${m}`), warn: () => {}, error: () => {}, debug: () => {} } as unknown as Logger;
  return { lines, log };
}

async function stderrOf(fn: () => Promise<void>): Promise<string> {
  const orig = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stderr.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = orig;
  }
  return out;
}

test('off a TTY: start and stop are logged, updates at most every everyMs', () => {
  const { lines, log } = capture();
  const p = createProgress({ enabled: true, log, tty: false, everyMs: 60_000 });
  p.start('listing');
  p.update('listing: 10');
  p.stop('done');
  assert.deepEqual(lines, ['info listing', 'info done']);
});

test('on a TTY: a stop before the spinner has loaded prints its line once', async () => {
  const { log } = capture();
  const out = await stderrOf(async () => {
    const p = createProgress({ enabled: true, log, tty: true });
    p.start('listing');
    p.stop('compared 3 paths');
    await new Promise((r) => setTimeout(r, 300)); // ora loads meanwhile: no spinner starts late
  });
  assert.equal(out.split('compared 3 paths').length - 1, 1);
  assert.doesNotMatch(out, /listing/);
});

test('on a TTY: the spinner, once loaded, ends with the stop line', async () => {
  const { log } = capture();
  const out = await stderrOf(async () => {
    const p = createProgress({ enabled: true, log, tty: true });
    p.start('listing');
    await new Promise((r) => setTimeout(r, 500));
    p.update('listing: 10');
    p.stop('compared 10 paths');
  });
  assert.match(out, /compared 10 paths/);
});
