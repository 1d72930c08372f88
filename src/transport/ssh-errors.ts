// Every way an SSH connection can fail, as one error class with a kind and an again/die verdict,
// so the engine retries what time can fix (network) and stops on what it cannot (keys, auth).
import { ChainError } from '../core/errors.js';

export type SshErrorKind =
  | 'host-key-unknown'
  | 'host-key-mismatch'
  | 'host-key-revoked'
  | 'auth'
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'reset'
  | 'sftp-unavailable'
  | 'identity'
  | 'other';

const RETRYABLE: Record<SshErrorKind, boolean> = {
  'host-key-unknown': false,
  'host-key-mismatch': false,
  'host-key-revoked': false,
  auth: false,
  identity: false,
  'sftp-unavailable': false,
  refused: true,
  timeout: true,
  dns: true,
  reset: true,
  // unclassified trouble is usually the network; retry with backoff rather than give up
  other: true,
};

export class SshError extends ChainError {
  readonly kind: SshErrorKind;
  readonly retryable: boolean;
  /** ring member name */
  readonly host: string;
  constructor(kind: SshErrorKind, host: string, message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super(message, opts);
    this.name = 'SshError';
    this.kind = kind;
    this.host = host;
    this.retryable = RETRYABLE[kind];
  }
}

/** What the classifier needs to know about the connection for its messages. */
export interface ErrorContext {
  name: string;
  address: string;
  port: number;
  user?: string;
  connectTimeoutMs?: number;
  /** what was being done: "connecting", "opening SFTP", ... */
  doing?: string;
}

/** Turn an ssh2 / socket error into an SshError (an SshError passes through unchanged). */
export function toSshError(err: unknown, c: ErrorContext): SshError {
  if (err instanceof SshError) return err;
  const e = err as NodeJS.ErrnoException & { level?: string };
  const msg = String(e?.message ?? err);
  const where = `${c.name} (${c.address}:${c.port})`;
  const code = e?.code;
  if (e?.level === 'client-authentication')
    return new SshError('auth', c.name, `${where} refused to let ${c.user ?? 'us'} log in: ${msg}; add our public key to that user's authorized_keys, or set ssh.identity`, { cause: err });
  if (code === 'ECONNREFUSED')
    return new SshError('refused', c.name, `cannot connect to ${where}: connection refused; is sshd running there, and is the port right?`, { cause: err });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL')
    return new SshError('refused', c.name, `cannot connect to ${where}: ${code === 'ENETUNREACH' ? 'network' : 'host'} unreachable; check the address and the network`, { cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || e?.level === 'client-dns')
    return new SshError('dns', c.name, `cannot resolve the address "${c.address}" of ${c.name}: ${code ?? msg}; check the name or DNS`, { cause: err });
  if (code === 'ETIMEDOUT' || e?.level === 'client-timeout' || /timed out|timeout/i.test(msg)) {
    const secs = c.connectTimeoutMs ? ` within ${c.connectTimeoutMs / 1000}s` : '';
    return new SshError('timeout', c.name, `${where} did not answer${secs} while ${c.doing ?? 'connecting'}; the host may be down, sshd stopped, or a firewall dropping packets`, { cause: err });
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /closed|reset|lost|no response/i.test(msg))
    return new SshError('reset', c.name, `the connection to ${where} was lost while ${c.doing ?? 'connecting'}: ${msg}; will retry`, { cause: err });
  return new SshError('other', c.name, `${where}: ${msg} (while ${c.doing ?? 'connecting'})`, { cause: err });
}
