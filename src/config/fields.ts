// How one config value is read: each reader takes the raw YAML value and returns the typed value,
// or throws Invalid with a message that says what is wrong and what to write instead.
// schema.ts places them; load.ts adds file:line and the key.
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { DURATION_FORMS, formatDuration, parseDuration } from './duration.js';
import { closest } from './suggest.js';

export class Invalid extends Error {}

/** What the readers need from outside the file: where "~" points, and the config file's directory. */
export interface FieldContext {
  home: string;
  configDir: string;
}

/** A zod node that runs a reader; undefined and null reach the reader, which decides what they mean. */
export function field<T>(read: (v: unknown) => T) {
  return z.unknown().transform((v, ctx): T => {
    try {
      return read(v);
    } catch (e) {
      if (!(e instanceof Invalid || e instanceof ConfigError)) throw e;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: e.message });
      return z.NEVER;
    }
  });
}

/** A value as the user wrote it, for "got …" in messages. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

const absent = (v: unknown): v is null | undefined => v === null || v === undefined;

/** A non-empty string without NUL, else Invalid naming what was expected. */
export function text(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Invalid(`expected ${what}, got ${show(v)}`);
  if (v.trim() === '') throw new Invalid(`expected ${what}, got an empty string`);
  if (v.includes('\0')) throw new Invalid('contains a NUL byte');
  return v;
}

export const required =
  <T>(read: (v: unknown) => T, hint: string) =>
  (v: unknown): T => {
    if (absent(v)) throw new Invalid(`missing: ${hint}`);
    return read(v);
  };

export const optional =
  <T>(read: (v: unknown) => T) =>
  (v: unknown): T | undefined =>
    absent(v) ? undefined : read(v);

/** Durations that drive timers must fit a setTimeout (2^31-1 ms), so 24 days is the ceiling. */
const TIMER_MAX = 24 * 86_400_000;

export function duration(opts: { timer: boolean }) {
  return (v: unknown): number => {
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new Invalid(`expected a duration (${DURATION_FORMS}), got ${show(v)}`);
    }
    const ms = parseDuration(v);
    if (ms <= 0) throw new Invalid(`must be longer than 0, got ${show(v)}`);
    if (opts.timer && ms > TIMER_MAX) throw new Invalid(`must be at most ${formatDuration(TIMER_MAX)}, got ${show(v)}`);
    return ms;
  };
}

/** trash, bypass: a duration, or false to switch the feature off; true means "on, with the default". */
export function durationOrFalse(opts: { timer: boolean; fallback: number; off: string }) {
  const read = duration(opts);
  return (v: unknown): number | false => {
    if (v === false) return false;
    if (v === true) return opts.fallback;
    if (v === 0 || v === '0') throw new Invalid(`must be longer than 0; write false for ${opts.off}`);
    return read(v);
  };
}

const YAML11_BOOLS = /^(yes|no|on|off|y|n|true|false)$/i;

export function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const hint = typeof v === 'string' && YAML11_BOOLS.test(v) ? ' (YAML 1.2 reads only true and false as booleans)' : '';
  throw new Invalid(`expected true or false, got ${show(v)}${hint}`);
}

export function port(v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new Invalid(`expected a port number from 1 to 65535, got ${show(v)}`);
  }
  return n;
}

/** receiver: the command that runs chain on a host (a shell command line; `receive ROOT` is
 *  appended), true for the default, or false for SFTP only. */
export function receiver(v: unknown): string | false {
  if (v === false) return false;
  if (v === true) return 'chain';
  const s = text(v, 'the command that runs chain on the host, such as chain or /usr/local/bin/chain, or false');
  if (/[\n\r]/.test(s)) throw new Invalid('must be one line');
  return s.trim();
}

export function user(v: unknown): string {
  const s = text(v, 'a user name such as chain');
  if (/[\s@:]/.test(s)) throw new Invalid(`expected a plain user name, got ${show(s)} (set the address separately)`);
  return s;
}

// Names appear in `--link A:B`, `--from NAME`, conflict copies (NAME.chain-conflict-HOST-…) and
// metric labels, so they are kept to hostname characters: no ":", "/" or spaces.
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function hostName(v: unknown): string {
  if (typeof v === 'number') throw new Invalid(`expected a name, got the number ${v}: quote it ("${v}")`);
  const s = text(v, 'a host name such as apollo');
  if (!HOST_NAME.test(s)) {
    throw new Invalid(`${show(s)} is not a valid host name: use letters, digits, ".", "-" and "_", starting with a letter or digit`);
  }
  return s;
}

export function address(v: unknown): string {
  const s = text(v, 'a hostname or IP address such as 10.0.0.11');
  if (/\s/.test(s) || s.includes('@')) {
    throw new Invalid(`expected a hostname or IP address, got ${show(s)} (set user and port as their own keys)`);
  }
  return s;
}

export const CONFLICT_MODES = ['newer', 'keep'] as const;
export type ConflictMode = (typeof CONFLICT_MODES)[number];

export function conflicts(v: unknown): ConflictMode {
  if ((CONFLICT_MODES as readonly unknown[]).includes(v)) return v as ConflictMode;
  const near = typeof v === 'string' ? closest(v, CONFLICT_MODES) : undefined;
  throw new Invalid(`expected newer or keep, got ${show(v)}${near ? ` (did you mean "${near}"?)` : ''}`);
}

export interface Listen {
  host: string;
  port: number;
}

/** metrics: "host:port", "[v6]:port", or a bare port meaning 127.0.0.1 (never all interfaces by accident). */
export function listen(v: unknown): Listen | undefined {
  if (absent(v) || v === false) return undefined;
  const bad = (why = '') =>
    new Invalid(`expected host:port such as 127.0.0.1:9464, or a port number, got ${show(v)}${why}`);
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) {
    return { host: '127.0.0.1', port: portOf(v, bad) };
  }
  if (typeof v !== 'string') throw bad();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]*)):(\d+)$/.exec(v.trim());
  if (!m) throw bad();
  const host = m[1] ?? m[2] ?? '';
  if (host === '') throw bad(': name the address to listen on, e.g. 0.0.0.0:9464 for all interfaces');
  return { host, port: portOf(m[3]!, bad) };
}

function portOf(v: unknown, bad: () => Invalid): number {
  try {
    return port(v);
  } catch {
    throw bad();
  }
}
