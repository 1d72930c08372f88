// Drives the real bin/chain (built into dist/ by `npm test`) as a user would.
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'chain');

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `wrap`: a command (and its arguments) to run chain under, e.g. setpriv with fewer capabilities */
const command = (args: string[], wrap: string[] = []): [string, string[]] => (wrap.length ? [wrap[0], [...wrap.slice(1), BIN, ...args]] : [BIN, args]);

/** run `chain ARGS`, never throwing on a non-zero exit */
export async function chain(args: string[], opts: { env?: Record<string, string>; input?: string; timeout?: number; wrap?: string[] } = {}): Promise<RunResult> {
  const r = await execa(...command(args, opts.wrap), { reject: false, env: { NO_COLOR: '1', ...opts.env }, input: opts.input ?? '', timeout: opts.timeout ?? 60_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface Daemon {
  proc: ResultPromise;
  /** everything it logged so far */
  log(): string;
  /** resolves once a log line matches */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** start `chain watch` (or another long-running command) in the background */
export function spawnChain(args: string[], opts: { env?: Record<string, string>; wrap?: string[] } = {}): Daemon {
  const proc = execa(...command(args, opts.wrap), { reject: false, env: { NO_COLOR: '1', ...opts.env }, stdin: 'ignore', buffer: false, all: true });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  proc.all?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) if (w.re.test(out)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    proc,
    log: () => out,
    waitFor: (re, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(t), resolve()) });
        proc.then(() => {
          if (!re.test(out)) {
            clearTimeout(t);
            reject(new Error(`process ended before ${re}:\n${out}`));
          }
        });
      }),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === undefined || proc.exitCode === null) proc.kill(signal);
      const r = await proc;
      return r.exitCode ?? -1;
    },
  };
}

/** `chain watch` on every host of a test ring: started together, stopped together, killed at the end */
export class Watchers {
  private readonly running: Daemon[] = [];

  /** start one daemon per host and wait until each is watching */
  async start(hosts: { name: string }[], cfg: string): Promise<Daemon[]> {
    const ds = hosts.map((h) => spawnChain(['--config', cfg, '--host', h.name, 'watch']));
    this.running.push(...ds);
    await Promise.all(ds.map((d) => d.waitFor(/watching /)));
    return ds;
  }

  /** track a daemon started elsewhere (e.g. a restart) */
  add(d: Daemon): Daemon {
    this.running.push(d);
    return d;
  }

  /** SIGTERM the daemons; their exit codes */
  async stop(ds: Daemon[]): Promise<number[]> {
    const codes = await Promise.all(ds.map((d) => d.stop('SIGTERM')));
    this.forget(ds);
    return codes;
  }

  forget(ds: Daemon[]): void {
    for (const d of ds) {
      const i = this.running.indexOf(d);
      if (i !== -1) this.running.splice(i, 1);
    }
  }

  /** for after(): whatever still runs is killed */
  async killAll(): Promise<void> {
    for (const d of this.running.splice(0)) await d.stop('SIGKILL').catch(() => {});
  }
}
