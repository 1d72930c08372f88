// The process exit codes of DESIGN.md; only cli/main.ts turns them into an exit.
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  PARTIAL: 3,
  BUSY: 75,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
