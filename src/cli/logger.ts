// Log lines for people and for machines: text (colour only on a TTY; systemd's journal adds its own
// timestamps) or one JSON object per line (--log-format json). Logs go to stderr; stdout is kept for
// command output (--json).
import type { Logger } from '../core/log.js';

export type LogFormat = 'text' | 'json';
export type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const COLOUR: Record<Level, string> = { error: '\x1b[31m', warn: '\x1b[33m', info: '', debug: '\x1b[2m' };

export function createLogger(opts: { format: LogFormat; level: Level; stream?: NodeJS.WriteStream; host?: string }): Logger {
  const stream = opts.stream ?? process.stderr;
  const colour = opts.format === 'text' && stream.isTTY === true && !process.env.NO_COLOR;
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] > RANK[opts.level]) return;
    if (opts.format === 'json') {
      stream.write(JSON.stringify({ time: new Date().toISOString(), level, host: opts.host, msg, ...fields }) + '\n');
      return;
    }
    const prefix = level === 'info' ? '' : `${level}: `;
    const line = `${prefix}${msg}`;
    stream.write(colour && COLOUR[level] ? `${COLOUR[level]}${line}\x1b[0m\n` : `${line}\n`);
  };
  return {
    error: (m, f) => write('error', m, f),
    warn: (m, f) => write('warn', m, f),
    info: (m, f) => write('info', m, f),
    debug: (m, f) => write('debug', m, f),
  };
}
