// One error class for everything a user should read: a short message (what, where, what to do),
// the exit code it maps to, and the cause kept for --verbose.
import { EXIT, type ExitCode } from './exit-codes.js';

export class ChainError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;
  constructor(message: string, opts: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ChainError';
    this.exitCode = opts.exitCode ?? EXIT.FAILED;
    this.hint = opts.hint;
  }
}

/** Bad config or bad command line: exit 2. */
export class ConfigError extends ChainError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: EXIT.USAGE });
    this.name = 'ConfigError';
  }
}
