// SFTP status codes → errors a user can act on, naming the host and the path, with an again/die
// verdict: a lost connection is worth retrying; "permission denied" is not until someone fixes it.
import { ChainError } from '../core/errors.js';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7) */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

export type SftpErrorKind =
  | 'no-such-file'
  | 'permission-denied'
  | 'failure'
  | 'unsupported'
  | 'connection-lost'
  | 'not-a-directory'
  | 'symlink-in-path'
  | 'root-missing'
  | 'refused'
  | 'other';

/**
 * How the engine should react. 'again': the link cannot work right now (connection gone, root
 * missing, e.g. an unmounted disk); keep the queue and retry later. 'path': only this path failed
 * (permission denied, a directory in the way, a symlink in the path); the rest of the batch goes on.
 */
export type SftpVerdict = 'again' | 'path';

const VERDICT: Record<SftpErrorKind, SftpVerdict> = {
  'connection-lost': 'again',
  'root-missing': 'again',
  'no-such-file': 'path',
  'permission-denied': 'path',
  failure: 'path',
  unsupported: 'path',
  'not-a-directory': 'path',
  'symlink-in-path': 'path',
  refused: 'path',
  other: 'path',
};

const HINTS: Partial<Record<SftpErrorKind, string>> = {
  'permission-denied': 'check the owner and mode of that path and its directory',
  failure: 'the server gave no reason: the disk may be full, or a directory is in the way',
  unsupported: 'the SFTP server does not support this operation',
  'connection-lost': 'the connection dropped; it will be retried',
};

export class SftpError extends ChainError {
  readonly kind: SftpErrorKind;
  readonly verdict: SftpVerdict;
  /**
   * true for link-level trouble ('again'); absent when only this path failed. core/classify.ts
   * reads {kind, retryable} as again/die, so a path-level error must not carry it and falls through
   * to the classifier's SFTP status-code rule ("path") instead.
   */
  readonly retryable?: true;
  readonly host: string;
  /** the absolute path on the host */
  readonly path: string;
  /** SFTP status code, when the server sent one */
  readonly code?: number;
  constructor(kind: SftpErrorKind, host: string, path: string, message: string, opts: { cause?: unknown; code?: number } = {}) {
    super(message, { cause: opts.cause, hint: HINTS[kind] });
    this.name = 'SftpError';
    this.kind = kind;
    this.verdict = VERDICT[kind];
    if (this.verdict === 'again') this.retryable = true;
    this.host = host;
    this.path = path;
    // a lost connection reads as SFTP's CONNECTION_LOST whatever ssh2 said, for code-based checks
    this.code = opts.code ?? (kind === 'connection-lost' ? SFTP_STATUS.CONNECTION_LOST : undefined);
  }
}

function kindOf(err: { code?: unknown; message?: string }): SftpErrorKind {
  switch (err.code) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return 'no-such-file';
    case SFTP_STATUS.PERMISSION_DENIED:
      return 'permission-denied';
    case SFTP_STATUS.FAILURE:
      return 'failure';
    case SFTP_STATUS.OP_UNSUPPORTED:
      return 'unsupported';
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return 'connection-lost';
  }
  // ssh2 fails pending requests with these when the channel or connection goes away
  if (/no response from server|not connected|channel|closed|connection lost|ECONNRESET/i.test(String(err.message))) return 'connection-lost';
  return 'other';
}

const WORDS: Record<SftpErrorKind, string> = {
  'no-such-file': 'no such file or directory',
  'permission-denied': 'permission denied',
  failure: 'failed',
  unsupported: 'operation not supported',
  'connection-lost': 'connection lost',
  'not-a-directory': 'not a directory',
  'symlink-in-path': 'a symlink is in the way',
  'root-missing': 'root does not exist',
  refused: 'refused',
  other: 'error',
};

/** Wrap an ssh2 SFTP error: "host: cannot <op> <path>: <reason>". */
export function sftpError(err: unknown, host: string, op: string, path: string): SftpError {
  if (err instanceof SftpError) return err;
  const e = (err ?? {}) as { code?: unknown; message?: string };
  const kind = kindOf(e);
  const detail = kind === 'other' ? `${WORDS[kind]}: ${e.message}` : WORDS[kind];
  return new SftpError(kind, host, path, `${host}: cannot ${op} ${path}: ${detail}`, {
    cause: err,
    code: typeof e.code === 'number' ? e.code : undefined,
  });
}
