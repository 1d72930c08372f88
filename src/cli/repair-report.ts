// What `chain repair` prints: a table of counts per host (planned, or done), with --verbose one
// line per path and host in the manner of rsync --itemize-changes, and the --json document.
import type { RepairAction, RepairPlan, HostCounts } from '../core/reconcile.js';
import type { RepairOutcome } from '../engine/repair.js';
import { fmtBytes, fmtCount } from '../engine/format.js';
import { table } from './table.js';

/**
 * Itemized change codes (first column of --verbose lines):
 *   >f+  new file          >f.  file replaced by a newer version     cd+  new directory
 *   cL+  new symlink       cL.  symlink pointing elsewhere           .fp / .dp  mode of a file / directory
 *   *del deleted (with what was under it)                             *kp  losing version kept as a conflict copy
 * A "(replaces dir)" note marks a directory that goes to make room for a file or link.
 */
export function itemCode(a: RepairAction): string {
  switch (a.op) {
    case 'copy':
      return a.expect?.type === 'file' ? '>f.' : '>f+';
    case 'mkdir':
      return 'cd+';
    case 'symlink':
      return a.expect?.type === 'symlink' ? 'cL.' : 'cL+';
    case 'setattr':
      return a.entry.type === 'dir' ? '.dp' : '.fp';
    case 'remove':
      return '*del';
    case 'keep':
      return '*kp';
  }
}

function detail(a: RepairAction, hosts: readonly string[]): string {
  const notes: string[] = [];
  switch (a.op) {
    case 'copy':
      notes.push(`${fmtBytes(a.entry.size)} from ${a.from.map((h) => hosts[h]).join('|')}`);
      break;
    case 'symlink':
      notes.push(`-> ${a.entry.target}`);
      break;
    case 'setattr':
      notes.push(`mode ${a.expect.mode.toString(8)} -> ${a.entry.mode.toString(8)}`);
      break;
    case 'remove':
      if (a.gone > 1) notes.push(`${a.gone} paths`);
      break;
    case 'keep':
      notes.push(`-> ${a.to}`);
      break;
  }
  if (a.op !== 'keep' && a.op !== 'remove' && a.expect && a.expect.type !== a.entry.type) notes.push(`(replaces ${a.expect.type})`);
  return notes.join(' ');
}

/** one line per action, sorted by path, then host */
export function itemize(plan: RepairPlan): string {
  const names = plan.hosts.map((h) => h.host);
  const width = Math.max(...names.map((n) => n.length));
  const rows = plan.hosts.flatMap((hp) => hp.actions.map((a) => ({ host: hp.host, a })));
  rows.sort((x, y) => (x.a.path < y.a.path ? -1 : x.a.path > y.a.path ? 1 : x.host < y.host ? -1 : x.host > y.host ? 1 : 0));
  return rows.map(({ host, a }) => `${host.padEnd(width)}  ${itemCode(a).padEnd(4)} ${a.path}${a.op === 'mkdir' ? '/' : ''}  ${detail(a, names)}`.trimEnd() + '\n').join('');
}

function countRow(name: string, entries: string, c: HostCounts): string[] {
  return [name, entries, String(c.copy), fmtBytes(c.bytes), String(c.mkdir), String(c.symlink), String(c.setattr), String(c.remove), String(c.keep)];
}

const HEAD = ['HOST', 'ENTRIES', 'FILES', 'BYTES', 'DIRS', 'LINKS', 'MODES', 'DELETED', 'KEPT'];

export function countsTable(out: RepairOutcome, which: 'planned' | 'done'): string {
  return table(
    HEAD,
    out.hosts
      .filter((h) => h.state !== 'not-involved')
      .map((h) => (h.state === 'unreachable' || h.state === 'failed' ? [h.name, h.state, '', '', '', '', '', '', ''] : countRow(h.name + (h.state === 'down' ? ' (down)' : ''), fmtCount(h.entries), h[which]))),
  );
}

export function jsonReport(out: RepairOutcome, opts: { mode: string; verbose: boolean }): string {
  const plan = out.plan;
  const names = out.hosts.map((h) => h.name);
  const actions =
    plan && (out.dryRun || opts.verbose)
      ? plan.hosts.flatMap((hp) =>
          hp.actions.map((a) => ({
            host: hp.host,
            code: itemCode(a),
            op: a.op,
            path: a.path,
            ...(a.op === 'copy' ? { size: a.entry.size, from: a.from.map((h) => names[h]) } : {}),
            ...(a.op === 'keep' ? { to: a.to } : {}),
            ...(a.op === 'remove' ? { paths: a.gone } : {}),
          })),
        )
      : undefined;
  return (
    JSON.stringify(
      {
        ok: out.code === 0,
        exitCode: out.code,
        dryRun: out.dryRun,
        mode: opts.mode,
        hosts: out.hosts.map((h) => ({ name: h.name, state: h.state, error: h.error, entries: h.entries, planned: h.planned, ...(out.dryRun ? {} : { done: h.done }) })),
        compared: plan?.compared ?? 0,
        differing: plan?.differing ?? 0,
        deletes: plan?.deletes ?? 0,
        conflicts: plan?.conflicts ?? 0,
        keptOnTargets: plan?.keptOnTargets ?? 0,
        unsupported: plan?.unsupported ?? [],
        stop: out.stop,
        busy: out.busy,
        failed: out.failed.map((f) => ({ host: f.host, path: f.path, error: f.error.message })),
        unresolved: out.unresolved,
        rounds: out.rounds,
        elapsedMs: out.elapsedMs,
        actions,
      },
      null,
      2,
    ) + '\n'
  );
}
