// The man pages, held to the code: both render without a single groff warning; chain.1 names every
// command and every option that the real bin/chain's --help prints (top level and each command,
// so a new option fails here until it is documented), and every exit code; chain.yaml.5 names
// every key the config schema accepts, in its section, with the default the code uses, and its
// example configurations load. `npm test` builds dist/ first; .ci/run installs groff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { chain } from '../support/chain.js';
import { packageRoot } from '../../src/config/starter.js';
import { DEFAULTS, HOST_KEYS, SSH_KEYS, TOP_KEYS } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/duration.js';
import { EXIT } from '../../src/core/exit-codes.js';

const ROOT = packageRoot();
const PAGES = { chain1: join(ROOT, 'man', 'chain.1'), chain5: join(ROOT, 'man', 'chain.yaml.5') };

function groff(args: string[], file: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('groff', [...args, file], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  if (r.error) assert.fail(`cannot run groff (${r.error.message}): install it (apt-get install groff; .ci/run does)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The page as a reader sees it: plain ASCII, no line breaks inside a paragraph (so no word is hyphenated). */
function rendered(file: string): string {
  const r = groff(['-man', '-Tascii', '-P-cbou', '-rLL=2000n', '-rHY=0'], file);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The text between a section heading (NAME, KEYS, ...) and the next one. */
function section(text: string, name: string): string {
  const m = new RegExp(`^${name}\\n([\\s\\S]*?)(?=^[A-Z][A-Z ]+\\n|$(?![\\s\\S]))`, 'm').exec(text);
  assert.ok(m, `no section ${name}`);
  return m[1]!;
}

/** "--name" as a whole option, not a prefix of a longer one */
const mentions = (text: string, opt: string) => new RegExp(`(^|[^\\w-])${opt.replace(/[-]/g, '\\-')}(?![\\w-])`, 'm').test(text);

for (const [name, file] of Object.entries(PAGES)) {
  for (const device of [[], ['-Tutf8'], ['-Tascii']]) {
    test(`${name} renders without a warning (groff -man -ww -z ${device.join(' ')})`, () => {
      const r = groff(['-man', '-ww', '-z', ...device], file);
      assert.equal(r.stderr, '', `groff warned about ${file}:\n${r.stderr}`);
      assert.equal(r.status, 0);
    });
  }
}

interface HelpOption {
  /** "--config", "-h" */
  flag: string;
  /** a boolean that defaults to true: what a user types is --no-NAME */
  negated: boolean;
}

/** Options and commands of one `chain [COMMAND] --help`, read the way a user reads it. */
async function help(args: string[]): Promise<{ options: HelpOption[]; commands: string[] }> {
  const r = await chain([...args, '--help']);
  assert.equal(r.exitCode, 0, `chain ${args.join(' ')} --help: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const options: HelpOption[] = [];
  const commands: string[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\S.*:$/.test(line)) section = line;
    if (section === 'Commands:') {
      const c = /^ {2}chain ([a-z][\w-]*)/.exec(line);
      if (c) commands.push(c[1]!);
    }
    // an option starts at column 2 ("  -h, --help") or 6 ("      --config"); wrapped text is indented further
    const m = /^ {2}(?:-(\w), | {4})--([a-z][\w-]*)/.exec(line);
    if (!m) continue;
    let block = line;
    for (let j = i + 1; j < lines.length && !/^ {2}(?:-\w, | {4})--[a-z]/.test(lines[j]!) && lines[j]!.trim() !== ''; j++) block += '\n' + lines[j];
    const negated = /\[boolean\]/.test(block) && /\[default: true\]/.test(block);
    options.push({ flag: negated ? `--no-${m[2]}` : `--${m[2]}`, negated });
    if (m[1]) options.push({ flag: `-${m[1]}`, negated: false });
  }
  return { options, commands };
}

test('chain.1 documents every command and every option of the real chain --help', async () => {
  const text = rendered(PAGES.chain1);
  const source = readFileSync(PAGES.chain1, 'utf8');
  const top = await help([]);
  assert.ok(top.commands.length >= 8, `commands found in chain --help: ${top.commands.join(', ')}`);
  const missing: string[] = [];
  for (const command of top.commands) {
    if (!new RegExp(`^\\.SS ${command}\\b`, 'm').test(source)) missing.push(`command ${command} (a .SS ${command} under COMMANDS)`);
  }
  const seen = new Set<string>();
  for (const [where, opts] of [['chain --help', top.options] as const, ...(await Promise.all(top.commands.map(async (c) => [`chain ${c} --help`, (await help([c])).options] as const)))]) {
    for (const o of opts) {
      if (seen.has(o.flag)) continue;
      seen.add(o.flag);
      if (!mentions(text, o.flag)) missing.push(`${o.flag} (from ${where})`);
    }
  }
  assert.ok(seen.has('--config') && seen.has('--no-progress') && seen.has('--dry-run'), `options read from --help: ${[...seen].join(' ')}`);
  assert.deepEqual(missing, [], `chain.1 does not mention: ${missing.join('; ')}`);
});

test('chain.1 lists every global option under GLOBAL OPTIONS, and every exit code, variable and signal', async () => {
  const text = rendered(PAGES.chain1);
  const globals = section(text, 'GLOBAL OPTIONS');
  for (const o of (await help([])).options) assert.ok(mentions(globals, o.flag), `${o.flag} is not under GLOBAL OPTIONS`);
  const exits = section(text, 'EXIT STATUS');
  for (const [what, code] of Object.entries(EXIT)) assert.match(exits, new RegExp(`^ {7}${code}\\b`, "m"), `exit code ${code} (${what}) is not under EXIT STATUS`);
  const env = section(text, 'ENVIRONMENT');
  for (const v of ['CHAIN_CONFIG', 'CHAIN_HOST', 'SSH_AUTH_SOCK', 'NO_COLOR']) assert.match(env, new RegExp(`^ {7}${v}\\b`, "m"), `${v} under ENVIRONMENT`);
  const files = section(text, 'FILES');
  for (const f of ['./chain.yaml', '/etc/chain/chain.yaml', 'state/queue/HOST.jsonl', 'state/snapshot', 'state/status.json', 'root/.chain/tmp/', 'root/.chain/inbox/', 'root/.chain/trash/', 'root/.chain/lock']) {
    assert.ok(files.includes(f), `${f} under FILES`);
  }
  const signals = section(text, 'SIGNALS');
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) assert.ok(signals.includes(s), `${s} under SIGNALS`);
  for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXAMPLES', 'SEE ALSO']) section(text, s);
});

/** The KEYS section's tagged paragraphs: "root (path, required)" → { root: "path, required" } */
function keyEntries(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^ {7}([a-zA-Z]+) \(([^)]*)\)\s*$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

test('chain.yaml.5 documents every config key in its section, with the default the code uses', () => {
  const text = rendered(PAGES.chain5);
  const keys = section(text, 'KEYS');
  const [top, rest] = keys.split(/^ {3}SSH KEYS$/m);
  const [ssh, host] = rest!.split(/^ {3}HOST KEYS$/m);
  const sections = { top: keyEntries(top!), ssh: keyEntries(ssh!), host: keyEntries(host!) };
  const missing = [
    ...TOP_KEYS.filter((k) => !sections.top.has(k)).map((k) => k),
    ...SSH_KEYS.filter((k) => !sections.ssh.has(k)).map((k) => `ssh.${k}`),
    ...HOST_KEYS.filter((k) => !sections.host.has(k)).map((k) => `hosts[].${k}`),
  ];
  assert.deepEqual(missing, [], `chain.yaml.5 has no entry for: ${missing.join(', ')}`);
  const extra = [
    ...[...sections.top.keys()].filter((k) => !(TOP_KEYS as string[]).includes(k)),
    ...[...sections.ssh.keys()].filter((k) => !(SSH_KEYS as string[]).includes(k)).map((k) => `ssh.${k}`),
    ...[...sections.host.keys()].filter((k) => !(HOST_KEYS as string[]).includes(k)).map((k) => `hosts[].${k}`),
  ];
  assert.deepEqual(extra, [], `chain.yaml.5 documents keys the schema does not accept: ${extra.join(', ')}`);

  const documented = (s: Map<string, string>, k: string) => /default:? ([^,]+)$/.exec(s.get(k)!)?.[1]?.trim();
  const durations = { interval: DEFAULTS.interval, trash: DEFAULTS.trash, bypass: DEFAULTS.bypass } as const;
  for (const [k, ms] of Object.entries(durations)) assert.equal(parseDuration(documented(sections.top, k)!), ms, `default of ${k}`);
  assert.equal(parseDuration(documented(sections.ssh, 'connectTimeout')!), DEFAULTS.connectTimeout, 'default of ssh.connectTimeout');
  assert.equal(documented(sections.ssh, 'knownHosts'), DEFAULTS.knownHosts);
  assert.equal(documented(sections.top, 'state'), DEFAULTS.state);
  assert.equal(documented(sections.top, 'delete'), String(DEFAULTS.delete));
  assert.equal(documented(sections.top, 'conflicts'), DEFAULTS.conflicts);
  assert.equal(documented(sections.host, 'port'), String(DEFAULTS.port));
  assert.match(section(text, 'EXCLUDE GLOBS'), /\*\.tmp excludes a\/b\/c\.tmp/);
});

test("chain.yaml.5's examples are configurations chain accepts", () => {
  const source = readFileSync(PAGES.chain5, 'utf8');
  const blocks = [...source.matchAll(/^\.EX\n([\s\S]*?)^\.EE$/gm)].map((m) =>
    m[1]!.replace(/\\-/g, '-').replace(/\\\(ti/g, '~').replace(/\\\(aq/g, "'").replace(/\\e/g, '\\'),
  );
  const yamlBlocks = blocks.filter((b) => !b.startsWith('chain:'));
  const full = yamlBlocks.filter((b) => b.startsWith('root:'));
  assert.ok(full.length >= 2 && yamlBlocks.length >= 4, `examples found: ${yamlBlocks.length}`);
  const opts = { home: '/home/u', defaultUser: 'u' };
  for (const b of full) assert.doesNotThrow(() => parseConfig(b, 'chain.yaml.5'), b);
  // a snippet is a part of the first example: merged into it, it must load too
  const base = parse(full[0]!) as Record<string, unknown>;
  for (const b of yamlBlocks.filter((x) => !x.startsWith('root:'))) {
    const part = parse(b) as Record<string, unknown>;
    const merged = { ...base, ...part, hosts: [...(base.hosts as unknown[]), ...((part.hosts as unknown[]) ?? [])] };
    assert.doesNotThrow(() => parseConfig(stringify(merged), 'chain.yaml.5', opts), b);
  }
});
