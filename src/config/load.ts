// chain.yaml → Config: YAML with positions, then the schema, then checks across hosts, then
// defaults. Every problem found on the way is reported together (ConfigInvalidError, exit 2).
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type Document, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { show } from './fields.js';
import { type ConfigProblem, ConfigInvalidError, type KeyPath, Locator, keyPathText } from './problems.js';
import { type Config, configSchema, resolveConfig } from './schema.js';
import { type Section, unknownKeyMessage } from './unknown-key.js';

export type { Config, HostConfig, SshSettings } from './schema.js';

export interface LoadOptions {
  /** where "~" points (default: this user's home) */
  home?: string;
  /** ssh user when the file sets none (default: the user running chain); null = unknown */
  defaultUser?: string | null;
}

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw cannotRead(file, e);
  }
  return parseConfig(text, file, opts);
}

/** `file` is used in messages as given, and resolved to an absolute path for Config.file and relative paths. */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
  const { raw, loc } = readYaml(text, file);
  const abs = resolve(file);
  const at: At = (path, message, key = keyPathText(path)) => ({ file, ...loc.value(path), ...(key ? { key } : {}), message });
  const ctx = { home: opts.home ?? homedir(), configDir: dirname(abs) };

  const parsed = configSchema(ctx).safeParse(raw);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap((i) => fromIssue(i, raw, file, loc, at));
  problems.push(...duplicateNames(raw, loc, at));
  if (!parsed.success) throw new ConfigInvalidError(problems);

  const defaultUser = opts.defaultUser === undefined ? currentUser() : opts.defaultUser;
  if (defaultUser === null && parsed.data.ssh.user === undefined && parsed.data.hosts.some((h) => h.user === undefined)) {
    problems.push(at(['ssh'], 'cannot tell which user to log in as (this process has no user name): set ssh.user', 'ssh.user'));
  }
  if (problems.length > 0) throw new ConfigInvalidError(problems);

  const config = resolveConfig(parsed.data, {
    ...ctx,
    file: abs,
    defaultUser: defaultUser ?? '',
    hostLine: (i) => loc.value(['hosts', i])?.line ?? 0,
  });
  problems.push(...samePlace(config, at));
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  return config;
}

/** The YAML as plain data plus a way back to positions; syntax problems end the parse here. */
function readYaml(text: string, file: string): { raw: unknown; loc: Locator } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  // Past a syntax error the tree is a guess, so schema messages about it would only mislead; and so
  // are the parser's own later errors, which mostly follow from the first (an unclosed "{" yields a
  // dozen): report duplicate keys before it, it, and how many more there are.
  if (doc.errors.length > 0) {
    const sorted = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]);
    const first = sorted.findIndex((e) => e.code !== 'DUPLICATE_KEY');
    const shown = first === -1 ? sorted : sorted.slice(0, first + 1);
    const more = sorted.length - shown.length;
    throw new ConfigInvalidError(
      shown.map((e) => ({
        file,
        ...lines.linePos(e.pos[0]),
        message:
          e.code === 'DUPLICATE_KEY'
            ? `key ${keyAt(text, e.pos[0])} appears twice in the same map; keep one`
            : `YAML syntax error: ${e.message}${more ? ` (${more} more after it may only follow from this one)` : ''}`,
      })),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigInvalidError(aliasProblems(doc, lines, file, e as Error));
  }
  if (raw === null || raw === undefined) {
    throw new ConfigInvalidError([{ file, message: 'no settings in this file: run `chain init` to write a commented starter' }]);
  }
  return { raw, loc: new Locator(doc, lines) };
}

type At = (path: KeyPath, message: string, key?: string) => ConfigProblem;

function fromIssue(issue: z.ZodIssue, raw: unknown, file: string, loc: Locator, at: At): ConfigProblem[] {
  const path = issue.path;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const section: Section = path.length === 0 ? 'top' : path[0] === 'ssh' ? 'ssh' : 'host';
    return issue.keys.map((k) => ({ file, ...loc.key(path, k), message: unknownKeyMessage(section, k, keyPathText(path)) }));
  }
  let message = issue.message;
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received !== 'undefined') {
    message += `, got ${show(valueAt(raw, path))}`;
  }
  return [at(path, message)];
}

function valueAt(raw: unknown, path: KeyPath): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), raw);
}

// Checked on the raw tree, so a duplicate is reported even when other keys of the hosts are wrong.
// Case does not count: names are matched against hostnames, which ignore case.
function duplicateNames(raw: unknown, loc: Locator, at: At): ConfigProblem[] {
  const hosts = (raw as { hosts?: unknown }).hosts;
  if (!Array.isArray(hosts)) return [];
  const seen = new Map<string, number>();
  const out: ConfigProblem[] = [];
  hosts.forEach((h, i) => {
    const name = (h as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const first = seen.get(name.toLowerCase());
    if (first === undefined) return void seen.set(name.toLowerCase(), i);
    const line = loc.value(['hosts', first, 'name'])?.line;
    out.push(at(['hosts', i, 'name'], `duplicate host name ${JSON.stringify(name)}: hosts[${first}] (line ${line}) has it too; names must be unique`));
  });
  return out;
}

// Two members writing one directory would push each change onto itself: refuse the obvious case.
function samePlace(config: Config, at: At): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  config.hosts.forEach((h, j) => {
    const i = config.hosts.findIndex((o) => o.address.toLowerCase() === h.address.toLowerCase() && o.port === h.port && o.root === h.root);
    if (i < j) {
      const o = config.hosts[i]!;
      out.push(at(['hosts', j], `${h.name} and ${o.name} (line ${o.line}) are the same place (${h.address}:${h.port}, root ${h.root}); give one of them its own root or port`));
    }
  });
  return out;
}

/** The key written at offset (a duplicate key's position), as the user wrote it. */
function keyAt(text: string, offset: number): string {
  return JSON.stringify(/^[^:\n]*/.exec(text.slice(offset))![0].trim().replace(/^(["'])(.*)\1$/, '$2'));
}

// toJS throws without a position; the usual cause is an alias whose anchor is missing, so find it.
function aliasProblems(doc: Document, lines: LineCounter, file: string, e: Error): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) === undefined) {
        out.push({ file, ...(node.range ? lines.linePos(node.range[0]) : {}), message: `alias *${node.source} has no anchor &${node.source} before it` });
      }
    },
  });
  return out.length > 0 ? out : [{ file, message: `YAML: ${e.message}` }];
}

function currentUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    // a uid with no passwd entry (containers): fall back to what the environment says
    return process.env.USER || process.env.LOGNAME || null;
  }
}

function cannotRead(file: string, e: unknown): ConfigError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ConfigError(`config file ${file} does not exist`, { hint: 'run `chain init` to write a commented starter', cause: e });
  if (code === 'EISDIR') return new ConfigError(`config file ${file} is a directory`, { hint: 'name the YAML file itself, e.g. --config /etc/chain/chain.yaml', cause: e });
  if (code === 'EACCES') return new ConfigError(`cannot read config file ${file}: permission denied`, { hint: 'run chain as a user who can read it, or fix its permissions', cause: e });
  return new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`, { cause: e });
}
