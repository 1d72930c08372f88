// Every transport error goes through here once: again (retry later: the link is down or flaky),
// die (retrying cannot help: fix config, keys or the target), or path (this one path failed;
// the link is fine and the rest of the batch goes on).
export type Verdict = 'again' | 'die' | 'path';

// SFTP status codes (draft-ietf-secsh-filexfer-02): 2 no such file, 3 permission denied, 4 failure,
// 5 bad message, 6 no connection, 7 connection lost, 8 op unsupported
const SFTP_PATH = new Set([2, 3, 4, 8]);
const SFTP_LINK = new Set([6, 7]);
const NET_AGAIN = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);
const FS_PATH = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST', 'ELOOP', 'ENAMETOOLONG', 'EINVAL', 'ENOSPC', 'EDQUOT', 'EROFS']);

export function classify(err: unknown): Verdict {
  const e = err as { retryable?: boolean; kind?: string; code?: unknown; name?: string; message?: string; level?: string } | null;
  if (!e || typeof e !== 'object') return 'again';
  if (e.name === 'UnsafePathError' || e.name === 'SourceChangedError') return 'path';
  const v = (e as { verdict?: unknown }).verdict;
  if (v === 'again' || v === 'die' || v === 'path') return v;
  if (typeof e.retryable === 'boolean' && typeof e.kind === 'string') return e.retryable ? 'again' : 'die';
  if (typeof e.code === 'number') {
    if (SFTP_LINK.has(e.code)) return 'again';
    if (SFTP_PATH.has(e.code)) return 'path';
  }
  if (typeof e.code === 'string') {
    if (NET_AGAIN.has(e.code)) return 'again';
    if (FS_PATH.has(e.code)) return 'path';
  }
  if (e.level === 'client-authentication') return 'die';
  if (/not connected|no response|connection lost|channel|keepalive|timed out|socket|closed/i.test(e.message ?? '')) return 'again';
  return 'path';
}
