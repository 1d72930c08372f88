// OpenSSH known_hosts, as pure functions over the file's text: which keys a host may present, and
// the line `chain trust` records. Follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": comma lists of
// patterns with * ? and !negation, [host]:port for ports other than 22, hashed |1|salt|hmac
// entries, @revoked (the key is refused) and @cert-authority (not used by chain; ignored).
import { createHash, createHmac, randomBytes } from 'node:crypto';

export type HostKeyStatus = 'ok' | 'unknown' | 'mismatch' | 'revoked';

export interface LookupResult {
  status: HostKeyStatus;
  /** SHA256 fingerprint of the presented key */
  fingerprint: string;
  /** fingerprints of the (not revoked) keys known_hosts lists for this host */
  knownFingerprints: string[];
  /** key types known_hosts lists for this host, in file order, without duplicates */
  knownTypes: string[];
}

interface KnownEntry {
  marker: '' | 'revoked' | 'cert-authority';
  hosts: string;
  keyType: string;
  blob: Buffer;
}

/** The name OpenSSH looks up: "host" on port 22, "[host]:port" otherwise. */
export function hostString(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** "SHA256:" + unpadded base64 of sha256(blob), as ssh-keygen -lf prints it. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside a public key blob (its first SSH string), e.g. "ssh-ed25519". */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** A known_hosts line for this host's key; hashed (|1|salt|hmac) when asked, like HashKnownHosts. */
export function entryLine(host: string, port: number, keyType: string, blob: Buffer, opts: { hash?: boolean } = {}): string {
  const name = hostString(host, port);
  const field = opts.hash ? hashHost(name, randomBytes(20)) : name;
  return `${field} ${keyType} ${blob.toString('base64')}`;
}

function hashHost(name: string, salt: Buffer): string {
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

/** Parse known_hosts text; malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownEntry[] {
  const out: KnownEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/);
    let marker: KnownEntry['marker'] = '';
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: ssh skips the line
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, b64] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const blob = Buffer.from(b64, 'base64');
    // the blob names its own type; a line whose two types disagree is corrupt
    if (keyTypeOf(blob) !== keyType) continue;
    out.push({ marker, hosts, keyType, blob });
  }
  return out;
}

/** Does the host-pattern field of a line match name (already lowercased, "[h]:p" form when needed)? */
export function hostMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, mac] = field.split('|');
    if (!salt || !mac) return false;
    return hashHost(name, Buffer.from(salt, 'base64')) === field;
  }
  // a negated match vetoes the line, whatever else matches (OpenSSH match_hostname)
  let positive = false;
  for (const pat of field.toLowerCase().split(',')) {
    if (pat.startsWith('!')) {
      if (wildcardMatch(pat.slice(1), name)) return false;
    } else if (wildcardMatch(pat, name)) {
      positive = true;
    }
  }
  return positive;
}

/** OpenSSH match_pattern: * any run, ? any one character, everything else literal. */
export function wildcardMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === s[i])) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starI = i;
    } else if (starP !== -1) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Is blob an acceptable key for host:port according to known_hosts text? */
export function lookup(text: string, host: string, port: number, keyBlob: Buffer): LookupResult {
  const name = hostString(host, port);
  const presentedType = keyTypeOf(keyBlob);
  const entries = parseKnownHosts(text).filter((e) => e.marker !== 'cert-authority' && hostMatches(e.hosts, name));
  const revoked = entries.some((e) => e.marker === 'revoked' && e.blob.equals(keyBlob));
  const known = entries.filter((e) => e.marker === '');
  const result = {
    fingerprint: fingerprint(keyBlob),
    knownFingerprints: [...new Set(known.map((e) => fingerprint(e.blob)))],
    knownTypes: [...new Set(known.map((e) => e.keyType))],
  };
  if (revoked) return { status: 'revoked', ...result };
  if (known.some((e) => e.blob.equals(keyBlob))) return { status: 'ok', ...result };
  // another key of the same type on record: the host's key changed, or someone is in between
  if (known.some((e) => e.keyType === presentedType)) return { status: 'mismatch', ...result };
  return { status: 'unknown', ...result };
}

/** Key types known_hosts lists for host:port, so a client can ask for those first (as ssh does). */
export function knownTypes(text: string, host: string, port: number): string[] {
  const name = hostString(host, port);
  const types = parseKnownHosts(text)
    .filter((e) => e.marker === '' && hostMatches(e.hosts, name))
    .map((e) => e.keyType);
  return [...new Set(types)];
}
