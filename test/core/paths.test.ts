// The root-relative path rules every transport call goes through (nothing may name a place outside
// a host's root), table by table, and the small helpers built on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { ancestors, joinRel, parentOf, relativeTo, safeRel, underRoot, UnsafePathError } from '../../src/core/paths.js';

const safe: [string, string][] = [
  ['', ''],
  ['.', ''],
  ['a', 'a'],
  ['a/b/c.jpg', 'a/b/c.jpg'],
  ['..a', '..a'],
  ['a..', 'a..'],
  ['a/...', 'a/...'],
  ['.hidden/.x', '.hidden/.x'],
  ['name with spaces/ü', 'name with spaces/ü'],
  ['a\\b', 'a\\b'], // a backslash is an ordinary character in a POSIX name
];

const unsafe: [string, string][] = [
  ['/etc/passwd', 'is absolute'],
  ['/', 'is absolute'],
  ['..', 'contains ".."'],
  ['../x', 'contains ".."'],
  ['a/../../x', 'contains ".."'],
  ['a/..', 'contains ".."'],
  ['a//b', 'has an empty or "." segment'],
  ['a/', 'has an empty or "." segment'],
  ['a/./b', 'has an empty or "." segment'],
  ['./a', 'has an empty or "." segment'],
  ['a/.', 'has an empty or "." segment'],
  ['a\0b', 'contains a NUL byte'],
  ['\0', 'contains a NUL byte'],
];

for (const [path, want] of safe) test(`safeRel(${JSON.stringify(path)}) = ${JSON.stringify(want)}`, () => assert.equal(safeRel(path), want));

for (const [path, why] of unsafe)
  test(`safeRel(${JSON.stringify(path)}) refuses: ${why}`, () => {
    assert.throws(
      () => safeRel(path),
      (err: unknown) => err instanceof UnsafePathError && err.why === why && err.path === path,
    );
    assert.throws(() => underRoot('/srv/up', path), UnsafePathError);
  });

const under: [string, string, string][] = [
  ['/srv/up', '', '/srv/up'],
  ['/srv/up', '.', '/srv/up'],
  ['/srv/up', 'a', '/srv/up/a'],
  ['/srv/up', 'a/b/c.jpg', '/srv/up/a/b/c.jpg'],
  ['/srv/up/', 'a', '/srv/up/a'],
  ['/', 'a/b', '/a/b'],
  ['/', '', '/'],
];

for (const [root, rel, want] of under)
  test(`underRoot(${JSON.stringify(root)}, ${JSON.stringify(rel)}) = ${JSON.stringify(want)}`, () => {
    assert.equal(underRoot(root, rel), want);
    // the same place posix.join names, and always inside the root
    if (rel !== '' && rel !== '.') assert.equal(underRoot(root, rel), posix.join(root, rel));
    assert.ok(underRoot(root, rel).startsWith(root.replace(/\/$/, '')));
  });

const relative: [string, string, string | null][] = [
  ['/srv/up', '/srv/up', ''],
  ['/srv/up', '/srv/up/', ''],
  ['/srv/up', '/srv/up/a/b', 'a/b'],
  ['/srv/up/', '/srv/up/a', 'a'],
  ['/srv/up', '/srv/upload/a', null],
  ['/srv/up', '/srv', null],
  ['/srv/up', '/other/a', null],
];

for (const [root, abs, want] of relative)
  test(`relativeTo(${JSON.stringify(root)}, ${JSON.stringify(abs)}) = ${JSON.stringify(want)}`, () => assert.equal(relativeTo(root, abs), want));

test('ancestors, parentOf and joinRel', () => {
  const cases: [string, string[], string][] = [
    ['', [], ''],
    ['a', [], ''],
    ['a/b', ['a'], 'a'],
    ['a/b/c', ['a', 'a/b'], 'a/b'],
  ];
  for (const [rel, anc, parent] of cases) {
    assert.deepEqual(ancestors(rel), anc, rel);
    assert.equal(parentOf(rel), parent, rel);
    if (rel !== '') assert.equal(joinRel(parentOf(rel), rel.slice(rel.lastIndexOf('/') + 1)), rel);
  }
  assert.equal(joinRel('', 'x'), 'x');
  assert.equal(joinRel('a/b', 'x'), 'a/b/x');
});

test('underRoot of a root that is not normalized names what posix.join names', () => {
  for (const root of ['/srv//up', '/srv/./up', '/srv/x/../up', '/srv/up/.'])
    for (const rel of ['a', 'a/b']) assert.equal(underRoot(root, rel), posix.join(root, rel), `${root} + ${rel}`);
});
