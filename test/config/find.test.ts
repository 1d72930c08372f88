import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findConfigFile } from '../../src/config/find.js';
import { ConfigError } from '../../src/core/errors.js';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

// A fresh tree per case: cwd/ (maybe with chain.yaml), etc/chain.yaml (maybe), other.yaml.
function tree(files: { local?: boolean; system?: boolean }) {
  const base = mkdtempSync(join(tmpdir(), 'chain-find-'));
  made.push(base);
  const cwd = join(base, 'cwd');
  mkdirSync(cwd);
  mkdirSync(join(base, 'etc'));
  mkdirSync(join(base, 'adir'));
  writeFileSync(join(base, 'other.yaml'), 'x: 1\n');
  if (files.local) writeFileSync(join(cwd, 'chain.yaml'), 'x: 1\n');
  if (files.system) writeFileSync(join(base, 'etc', 'chain.yaml'), 'x: 1\n');
  return { base, cwd, systemFile: join(base, 'etc', 'chain.yaml') };
}

const rows: {
  name: string;
  files: { local?: boolean; system?: boolean };
  flag?: string;
  env?: string;
  want: string | RegExp[];
}[] = [
  { name: '--config wins over everything', files: { local: true, system: true }, flag: '../other.yaml', env: 'nope', want: 'other.yaml' },
  { name: 'CHAIN_CONFIG next', files: { local: true, system: true }, env: '../other.yaml', want: 'other.yaml' },
  { name: 'an empty CHAIN_CONFIG counts as unset', files: { local: true }, env: '', want: 'cwd/chain.yaml' },
  { name: './chain.yaml next', files: { local: true, system: true }, want: 'cwd/chain.yaml' },
  { name: '/etc/chain/chain.yaml last', files: { system: true }, want: 'etc/chain.yaml' },
  { name: 'a missing --config is an error, not a fallback', files: { local: true }, flag: 'gone.yaml', want: [/gone\.yaml \(from --config\) does not exist/] },
  { name: 'a missing CHAIN_CONFIG is an error', files: { system: true }, env: '/nowhere/c.yaml', want: [/\/nowhere\/c\.yaml \(from CHAIN_CONFIG\) does not exist/] },
  { name: '--config naming a directory', files: {}, flag: '../adir', want: [/adir \(from --config\) is not a file/] },
  { name: 'nothing anywhere', files: {}, want: [/looked for .*cwd\/chain\.yaml and .*etc\/chain\.yaml/, /chain init/] },
];

for (const row of rows) {
  test(`findConfigFile: ${row.name}`, () => {
    const t = tree(row.files);
    const env = row.env === undefined ? {} : { CHAIN_CONFIG: row.env };
    const run = () => findConfigFile({ flag: row.flag, env, cwd: t.cwd, systemFile: t.systemFile });
    if (typeof row.want === 'string') {
      assert.equal(run(), join(t.base, row.want));
    } else {
      const patterns = row.want;
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof ConfigError && e.exitCode === 2);
        const text = `${e.message}\n${e.hint ?? ''}`;
        for (const p of patterns) assert.match(text, p);
        return true;
      });
    }
  });
}
