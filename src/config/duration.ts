// Durations as users write them in chain.yaml and on the command line ("500ms", "1.5s", "2m",
// "1h30m", "7d"; a bare number is seconds) and back again for messages and `status`.
import { ConfigError } from '../core/errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Shown in every error, so a user can copy a working form from the message. */
export const DURATION_FORMS = '500ms, 1s, 1.5s, 2m, 1h, 7d, 1h30m, or a bare number of seconds';

// One number+unit term; "ms" before "m" so "500ms" is not read as 500 minutes followed by "s".
const TERM = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)/y;
const BARE = /^(\d+(?:\.\d+)?|\.\d+)$/;

/** Milliseconds (rounded to whole ms) of a duration; throws ConfigError naming the accepted forms. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw bad(v);
    return Math.round(v * 1000);
  }
  const text = v.trim();
  if (BARE.test(text)) return Math.round(Number(text) * 1000);
  let ms = 0;
  let at = 0;
  const used = new Set<Unit>();
  while (at < text.length) {
    TERM.lastIndex = at;
    const m = TERM.exec(text);
    if (!m) throw bad(v);
    const unit = m[2] as Unit;
    // "1s2s" or "1m1h" is almost surely a typo; insist on each unit once, largest first.
    if (used.has(unit) || [...used].some((u) => UNIT_MS[u] < UNIT_MS[unit])) throw bad(v);
    used.add(unit);
    ms += Number(m[1]) * UNIT_MS[unit];
    at = TERM.lastIndex;
    while (text[at] === ' ') at++;
  }
  if (used.size === 0) throw bad(v);
  return Math.round(ms);
}

function bad(v: string | number): ConfigError {
  const shown = typeof v === 'string' ? JSON.stringify(v) : String(v); // JSON would print Infinity as null
  return new ConfigError(`bad duration ${shown}: write ${DURATION_FORMS}`);
}

/** The shortest exact form parseDuration reads back to the same ms: 500ms, 1.5s, 2m, 1h30m, 7d. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  ms = Math.round(ms);
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(3)}s`;
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNIT_MS[unit];
  }
  return rest > 0 ? `${out}${rest}ms` : out;
}
