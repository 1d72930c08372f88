// One verified SSH connection to one ring member: host key checked against known_hosts (never
// trust-on-first-use; `chain trust` records keys), key auth from the identity file, the agent or the
// default identities, and every failure turned into an SshError with an again/die verdict.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Client as ClientType, ConnectConfig, SFTPWrapper, ParsedKey, AuthenticationType } from 'ssh2';
import { lookup, keyTypeOf, fingerprint, knownTypes, type LookupResult } from './known-hosts.js';
import { SshError, toSshError } from './ssh-errors.js';

export { SshError, type SshErrorKind } from './ssh-errors.js';

const { Client, utils } = ssh2;

export interface SshTarget {
  /** ring member name, for messages and `chain trust NAME` */
  name: string;
  address: string;
  port: number;
  user: string;
  /** private key path, ~ already expanded; absent: ssh agent, then ~/.ssh/id_* */
  identity?: string;
  /** known_hosts path; a missing file means every key is unknown */
  knownHosts: string;
  connectTimeoutMs: number;
  /** keepalive probe interval (default 15 s); the link is declared dead after 3 unanswered */
  keepaliveMs?: number;
}

const KEEPALIVE_MS = 15_000;
const KEEPALIVE_MAX = 3;
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
// GCM is fastest with node's OpenSSL; removing then prepending moves it to the front of ssh2's list
const CIPHERS = { remove: ['aes128-gcm@openssh.com'], prepend: ['aes128-gcm@openssh.com'] };
// host key algorithms ssh2 can verify, per known_hosts key type
const HOSTKEY_ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** A live connection. 'end' fires once when it closes, with the error that closed it, if any. */
export class SshSession extends EventEmitter<{ end: [err: SshError | undefined] }> {
  private sftpChannel: Promise<SFTPWrapper> | undefined;
  private lastError: SshError | undefined;
  private ended = false;

  constructor(
    readonly target: SshTarget,
    readonly client: ClientType,
  ) {
    super();
    // after 'ready' the client may still emit errors (keepalive timeout, reset); they end the session
    client.on('error', (err) => (this.lastError = toSshError(err, { ...target, doing: 'connected' })));
    client.on('close', () => {
      if (this.ended) return;
      this.ended = true;
      this.emit('end', this.lastError);
    });
  }

  get name(): string {
    return this.target.name;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The session's SFTP channel, opened on first use. */
  sftp(): Promise<SFTPWrapper> {
    if (this.ended) return Promise.reject(this.lastError ?? new SshError('reset', this.name, `the connection to ${this.name} is closed`));
    this.sftpChannel ??= openSftp(this.client, this.target).catch((err) => {
      this.sftpChannel = undefined;
      throw err;
    });
    return this.sftpChannel;
  }

  /** Close the connection; resolves when the socket is gone. */
  close(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => this.client.destroy(), 2000);
      this.once('end', () => {
        clearTimeout(t);
        resolve();
      });
      this.client.end();
    });
  }
}

function openSftp(client: ClientType, t: SshTarget): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SshError('timeout', t.name, `${t.name} (${t.address}:${t.port}) did not start SFTP within ${t.connectTimeoutMs / 1000}s`)),
      t.connectTimeoutMs,
    );
    client.sftp((err, sftp) => {
      clearTimeout(timer);
      if (!err) return resolve(sftp);
      const msg = String(err.message);
      if (/subsystem|channel open failure|administratively prohibited/i.test(msg))
        return reject(
          new SshError('sftp-unavailable', t.name, `${t.name} (${t.address}:${t.port}) offers no SFTP: ${msg}; enable "Subsystem sftp internal-sftp" in its sshd_config`, { cause: err }),
        );
      reject(toSshError(err, { ...t, doing: 'opening SFTP' }));
    });
  });
}

type AuthMethod =
  | { type: 'publickey'; username: string; key: ParsedKey }
  | { type: 'agent'; username: string; agent: string };

/** Auth methods to try, in order, and a description of them for messages. */
async function authMethods(t: SshTarget): Promise<{ methods: AuthMethod[]; tried: string[] }> {
  const agent = process.env.SSH_AUTH_SOCK;
  if (t.identity) {
    const key = await readKey(t.identity);
    if (key === 'encrypted') {
      if (!agent)
        throw new SshError(
          'identity',
          t.name,
          `the identity ${t.identity} is protected by a passphrase and no ssh agent is running; load it with "ssh-add ${t.identity}" (SSH_AUTH_SOCK set), or use a key without passphrase`,
        );
      return { methods: [{ type: 'agent', username: t.user, agent }], tried: [`the ssh agent (for ${t.identity})`] };
    }
    if (key === 'missing') throw new SshError('identity', t.name, `the identity file ${t.identity} does not exist; check ssh.identity`);
    return { methods: [{ type: 'publickey', username: t.user, key }], tried: [t.identity] };
  }
  if (agent) return { methods: [{ type: 'agent', username: t.user, agent }], tried: ['the ssh agent (SSH_AUTH_SOCK)'] };
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  for (const name of DEFAULT_IDENTITIES) {
    const path = join(homedir(), '.ssh', name);
    const key = await readKey(path).catch(() => 'missing' as const);
    if (key === 'missing' || key === 'encrypted') continue;
    methods.push({ type: 'publickey', username: t.user, key });
    tried.push(path);
  }
  if (methods.length === 0)
    throw new SshError(
      'identity',
      t.name,
      `no SSH key to log in to ${t.name} with: set ssh.identity, run an ssh agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519 without passphrase`,
    );
  return { methods, tried };
}

async function readKey(path: string): Promise<ParsedKey | 'encrypted' | 'missing'> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new SshError('identity', '', `cannot read the identity ${path}: ${(err as Error).message}; check ssh.identity: it must be a private key file readable by the user running chain`, {
      cause: err,
    });
  }
  const key = utils.parseKey(data);
  if (key instanceof Error) {
    if (/passphrase|encrypted/i.test(key.message)) return 'encrypted';
    throw new SshError('identity', '', `${path} is not a private key chain can use: ${key.message}`, { cause: key });
  }
  return Array.isArray(key) ? key[0] : key;
}

async function readKnownHosts(t: SshTarget): Promise<string> {
  try {
    return await readFile(t.knownHosts, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SshError('other', t.name, `cannot read the known_hosts file ${t.knownHosts}: ${(err as Error).message}`, { cause: err });
  }
}

/** Server host key algorithms, the types known_hosts has for this host first (as ssh does). */
function hostKeyAlgorithms(types: string[]): { remove: string[]; prepend: string[] } | undefined {
  const algos = types.flatMap((t) => HOSTKEY_ALGOS[t] ?? []);
  return algos.length ? { remove: algos, prepend: algos } : undefined;
}

function hostKeyError(t: SshTarget, r: LookupResult, keyType: string): SshError {
  const where = `${t.name} (${t.address}:${t.port})`;
  const trust = `run "chain trust ${t.name}" to review and record it`;
  if (r.status === 'revoked')
    return new SshError(
      'host-key-revoked',
      t.name,
      `the host key of ${where}, ${keyType} ${r.fingerprint}, is marked @revoked in ${t.knownHosts}; refusing to connect. Give the host a new key, then ${trust}`,
    );
  if (r.status === 'mismatch')
    return new SshError(
      'host-key-mismatch',
      t.name,
      `WARNING: THE HOST KEY OF ${where} HAS CHANGED. It now presents ${keyType} ${r.fingerprint}, but ${t.knownHosts} records ` +
        `${r.knownFingerprints.join(', ')}. Someone may be intercepting the connection (an attack), or the host was reinstalled. ` +
        `Refusing to connect. If you know why the key changed, remove the old entry with ` +
        `ssh-keygen -R '${t.port === 22 ? t.address : `[${t.address}]:${t.port}`}' -f ${t.knownHosts}, then ${trust}`,
    );
  const others = r.knownFingerprints.length ? ` (it records other key types: ${r.knownFingerprints.join(', ')})` : '';
  return new SshError(
    'host-key-unknown',
    t.name,
    `the host key of ${where} is not in ${t.knownHosts}${others}; it presents ${keyType} ${r.fingerprint}. Refusing to connect; ${trust}`,
  );
}

/** Connect, verify the host key, log in. Rejects with an SshError. */
export async function connect(t: SshTarget): Promise<SshSession> {
  const known = await readKnownHosts(t);
  const { methods, tried } = await authMethods(t).catch((err) => {
    if (err instanceof SshError && err.host === '') throw new SshError(err.kind, t.name, err.message, { cause: err.cause });
    throw err;
  });
  const client = new Client();
  let keyProblem: SshError | undefined;

  const cfg: ConnectConfig = {
    host: t.address,
    port: t.port,
    username: t.user,
    readyTimeout: t.connectTimeoutMs,
    keepaliveInterval: t.keepaliveMs ?? KEEPALIVE_MS,
    keepaliveCountMax: KEEPALIVE_MAX,
    algorithms: { cipher: CIPHERS, serverHostKey: hostKeyAlgorithms(knownTypes(known, t.address, t.port)) } as ConnectConfig['algorithms'],
    hostVerifier: (key: Buffer) => {
      const r = lookup(known, t.address, t.port, key);
      if (r.status === 'ok') return true;
      keyProblem = hostKeyError(t, r, keyTypeOf(key));
      return false;
    },
    authHandler: methods as unknown as AuthenticationType[],
  };

  return new Promise<SshSession>((resolve, reject) => {
    let settled = false;
    const fail = (err: SshError) => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      client.removeListener('ready', onReady);
      client.destroy();
      reject(err);
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve(new SshSession(t, client));
    };
    const onError = (err: Error & { level?: string }) => {
      if (keyProblem) return fail(keyProblem);
      // an agent that cannot be reached is not fatal: ssh2 goes on with the next method
      if (err.level === 'agent') return;
      if (err.level === 'client-authentication')
        return fail(
          new SshError(
            'auth',
            t.name,
            `${t.name} (${t.address}:${t.port}) refused to let "${t.user}" log in with ${tried.join(', ')}; ` +
              `add the public key to ~${t.user}/.ssh/authorized_keys on ${t.name}, or set ssh.identity / ssh.user`,
            { cause: err },
          ),
        );
      fail(toSshError(err, { ...t, doing: 'connecting' }));
    };
    const onClose = () => fail(keyProblem ?? new SshError('reset', t.name, `${t.name} (${t.address}:${t.port}) closed the connection during the handshake; check its sshd log`));
    // ssh2's readyTimeout covers the handshake; this covers everything up to 'ready', whatever stalls
    const backstop = setTimeout(() => fail(toSshError(Object.assign(new Error('timed out'), { level: 'client-timeout' }), { ...t, doing: 'connecting' })), t.connectTimeoutMs + 1000);
    client.on('ready', onReady).on('error', onError).on('close', onClose);
    try {
      client.connect(cfg);
    } catch (err) {
      fail(toSshError(err, { ...t, doing: 'connecting' }));
    }
  });
}

export interface ProbedKey {
  keyType: string;
  blob: Buffer;
  fingerprint: string;
}

/** Ask a server for its host key without logging in (for `chain trust`). */
export async function probeHostKey(address: string, port: number, timeoutMs: number, name = address): Promise<ProbedKey> {
  const client = new Client();
  return new Promise<ProbedKey>((resolve, reject) => {
    let done = false;
    const finish = (err: SshError | undefined, key?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(backstop);
      client.destroy();
      if (key) resolve({ keyType: keyTypeOf(key), blob: key, fingerprint: fingerprint(key) });
      else reject(err);
    };
    const ctx = { name, address, port, connectTimeoutMs: timeoutMs, doing: 'asking for the host key' };
    const backstop = setTimeout(() => finish(toSshError(Object.assign(new Error('timed out'), { level: 'client-timeout' }), ctx)), timeoutMs + 1000);
    let seen: Buffer | undefined;
    // refusing the key makes ssh2 emit "Host denied"; that is the success path here
    client.on('error', (err) => finish(seen ? undefined : toSshError(err, ctx), seen));
    client.on('close', () => finish(seen ? undefined : new SshError('reset', name, `${name} (${address}:${port}) closed the connection before showing its host key`), seen));
    try {
      client.connect({
        host: address,
        port,
        username: 'chain-probe',
        readyTimeout: timeoutMs,
        // refusing the key ends the handshake before any authentication is attempted
        hostVerifier: (key: Buffer) => {
          seen = Buffer.from(key);
          return false;
        },
      });
    } catch (err) {
      finish(toSshError(err, ctx));
    }
  });
}
