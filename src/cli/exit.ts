// Commands report their exit code here; only main.ts exits.
import type { ExitCode } from '../core/exit-codes.js';

let code: ExitCode | undefined;
export function setExit(c: ExitCode): void {
  code = c;
}
export function takeExit(): ExitCode | undefined {
  return code;
}
