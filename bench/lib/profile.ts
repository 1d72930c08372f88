// Where the time goes: V8 CPU profiles (.cpuprofile from node --cpu-prof) summarised by function
// and by module, and SFTP requests counted by type from sftp-server's DEBUG3 log.
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  /** self time per module */
  byModule: [string, number][];
  /** self time per function */
  byFunction: [string, number][];
  /** inclusive time per function of chain's own code (dist/src) */
  chainInclusive: [string, number][];
}

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const d = url.indexOf('/dist/src/');
  if (d >= 0) return 'chain:' + url.slice(d + 10).replace(/\.js$/, '');
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time per module and per function (sample-weighted), idle excluded; with window (µs of
 * CLOCK_MONOTONIC, as process.hrtime and V8's profile timestamps use) only samples inside it.
 */
export function summariseProfile(file: string, window?: [number, number]): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  const inclusive = new Map<string, number>();
  const keyOf = (n: CpuNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    return `${functionName || '(anonymous)'} ${moduleOf(url, functionName)}${url ? ':' + (lineNumber + 1) : ''}`;
  };
  if (p.samples && p.timeDeltas) {
    let t = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (window && (t < window[0] || t > window[1])) continue;
      const ms = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
      const id = p.samples[i];
      self.set(id, (self.get(id) ?? 0) + ms);
      const leaf = byId.get(id);
      if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        if (!n.callFrame.url.includes('/dist/src/')) continue;
        const k = keyOf(n);
        if (seen.has(k)) continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
      }
    }
  } else {
    const total = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const per = (p.endTime - p.startTime) / 1000 / Math.max(1, total);
    for (const n of p.nodes) self.set(n.id, (n.hitCount ?? 0) * per);
  }
  const mods = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url } = n.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    total += ms;
    const mod = moduleOf(url, functionName);
    mods.set(mod, (mods.get(mod) ?? 0) + ms);
    const key = keyOf(n);
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: total, idleMs: idle, byModule: sorted(mods), byFunction: sorted(fns), chainInclusive: sorted(inclusive) };
}

/** Switch the harness's sftp-server wrapper of a host, and its chain receive wrapper (a line per
 *  file at any level), to another log level (new sessions only).
 *  level null: no per-request log at all, as a stock `Subsystem sftp sftp-server` runs. */
export function setSftpLog(hostDir: string, logFile: string, level: 'INFO' | 'DEBUG3' | null): boolean {
  const wrapper = join(hostDir, 'sftp-server.sh');
  if (!existsSync(wrapper)) return false;
  const m = readFileSync(wrapper, 'utf8').match(/exec (\S+)/);
  if (!m) return false;
  const line = level ? `exec ${m[1]} -e -l ${level} 2>>'${logFile}'` : `exec ${m[1]}`;
  writeFileSync(wrapper, `#!/bin/sh\n${line}\n`);
  chmodSync(wrapper, 0o755);
  // chain receive's line per file (test/support/sshd.ts receive.sh) goes with it
  const receiver = join(hostDir, 'receive.sh');
  if (existsSync(receiver)) {
    const r = readFileSync(receiver, 'utf8').match(/exec ('[^']*' '[^']*')/);
    if (!r) return false;
    writeFileSync(receiver, `#!/bin/sh\nexec ${r[1]} ${level ? `--verbose "$@" 2>>'${logFile}'` : '"$@"'}\n`);
    chmodSync(receiver, 0o755);
  }
  return true;
}

/** SFTP requests by type in a DEBUG3 sftp-server log ("request N: lstat", "request N: write ..."). */
export function countSftpRequests(text: string): { total: number; byType: Record<string, number>; bytesWritten: number } {
  const byType: Record<string, number> = {};
  let total = 0;
  let bytesWritten = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^debug\d: request \d+: (\S+)/);
    if (!m) continue;
    if (m[1] === 'sent') {
      total++;
      continue;
    }
    const op = m[1].replace(/:$/, '');
    byType[op] = (byType[op] ?? 0) + 1;
    if (op === 'write') bytesWritten += Number(line.match(/ len (\d+)/)?.[1] ?? 0);
  }
  return { total, byType, bytesWritten };
}
