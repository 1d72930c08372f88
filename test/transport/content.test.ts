// localContent: what is read for sending is the planned version, and verify() says whether the path
// still holds exactly that file right before it is published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, utimesSync, renameSync, rmSync, symlinkSync, lstatSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { localContent } from '../../src/transport/content.js';
import { SourceChangedError } from '../../src/transport/remote.js';
import type { Entry } from '../../src/core/types.js';

const dir = mkdtempSync(join(tmpdir(), 'chain-content-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, data: string | Buffer, mtime = 1_700_000_000): { path: string; expect: Entry } {
  const path = join(dir, name);
  writeFileSync(path, data);
  utimesSync(path, mtime, mtime);
  const st = lstatSync(path);
  return { path, expect: { type: 'file', size: st.size, mtime: Math.floor(st.mtimeMs / 1000), mode: st.mode & 0o7777 } };
}

const after: { name: string; size: number; change: (path: string) => void; ok: boolean }[] = [
  { name: 'nothing changed', size: 100, change: () => {}, ok: true },
  { name: 'rewritten in place, same size, same second', size: 100, change: (p) => writeFileSync(p, 'y'.repeat(100)), ok: false },
  { name: 'appended to', size: 100, change: (p) => appendFileSync(p, 'more'), ok: false },
  { name: 'replaced by another file (rename over it)', size: 100, change: (p) => (writeFileSync(p + '.new', 'x'.repeat(100)), utimesSync(p + '.new', 1_700_000_000, 1_700_000_000), renameSync(p + '.new', p)), ok: false },
  { name: 'deleted', size: 100, change: (p) => rmSync(p), ok: false },
  { name: 'replaced by a symlink', size: 100, change: (p) => (rmSync(p), symlinkSync('/etc/passwd', p)), ok: false },
  { name: 'large file, nothing changed', size: 200_000, change: () => {}, ok: true },
  { name: 'large file, appended to', size: 200_000, change: (p) => appendFileSync(p, 'more'), ok: false },
];

after.forEach((c, i) => {
  test(`localContent then verify: ${c.name} → ${c.ok ? 'still the planned file' : 'SourceChangedError'}`, async () => {
    const { path, expect } = file(`f${i}`, 'x'.repeat(c.size));
    const content = await localContent(path, expect, `f${i}`);
    try {
      if (c.size <= 64 * 1024) assert.equal(content.whole?.toString(), 'x'.repeat(c.size), 'a small file is read whole at open');
      c.change(path);
      if (c.ok) await content.verify();
      else await assert.rejects(content.verify(), SourceChangedError);
    } finally {
      await content.close();
    }
  });
});

test('localContent refuses a file that is not what was planned at open', async () => {
  const { path, expect } = file('planned', 'abc');
  writeFileSync(path, 'abcd');
  await assert.rejects(localContent(path, expect, 'planned'), SourceChangedError);
  await assert.rejects(localContent(join(dir, 'missing'), expect, 'missing'), SourceChangedError);
});
