// Everything wrong with a config file, each problem pinned to file:line:col and the key, so a
// user fixes them all in one pass instead of one per run.
import { type Document, type LineCounter, type Node, isAlias, isMap, isNode, isScalar, isSeq } from 'yaml';
import { ConfigError } from '../core/errors.js';

export type KeyPath = readonly (string | number)[];

export interface ConfigProblem {
  file: string;
  line?: number;
  col?: number;
  /** "hosts[1].port"; absent for problems of the whole file */
  key?: string;
  message: string;
}

/** "chain.yaml:7:12: hosts[1].port: expected a port number …" */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.col ?? 1}`;
  return `${where}: ${p.key ? `${p.key}: ` : ''}${p.message}`;
}

/** A config that cannot be used: every problem, one per line, in file order. Exit 2. */
export class ConfigInvalidError extends ConfigError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    const sorted = [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    super(sorted.map(formatProblem).join('\n'), {
      hint: `fix ${sorted.length === 1 ? 'it' : 'them'}, then run \`chain check\`; \`chain init\` writes a commented example`,
    });
    this.name = 'ConfigInvalidError';
    this.problems = sorted;
  }
}

/** ["hosts", 1, "port"] → "hosts[1].port" */
export function keyPathText(path: KeyPath): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
}

export interface Position {
  line: number;
  col: number;
}

/** Finds where a key path sits in the YAML source, falling back to the nearest part that exists. */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The value at path (or its key, when the value is empty), else the closest existing ancestor. */
  value(path: KeyPath): Position | undefined {
    const { node, key, complete } = this.walk(path);
    if (complete && isScalar(node) && node.value === null && key) return this.pos(key);
    return this.pos(node) ?? this.pos(key);
  }

  /** The key node `name` of the map at path (for unknown keys). */
  key(path: KeyPath, name: string): Position | undefined {
    const { node, complete } = this.walk(path);
    if (complete && isMap(node)) {
      const pair = node.items.find((p) => keyName(p.key) === name);
      if (pair) return this.pos(pair.key) ?? this.pos(pair.value);
    }
    return this.pos(node);
  }

  private walk(path: KeyPath): { node: unknown; key?: unknown; complete: boolean } {
    let node: unknown = this.doc.contents;
    let key: unknown;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => keyName(p.key) === String(seg));
        if (!pair) return { node, key, complete: false };
        [node, key] = [pair.value, pair.key];
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        [node, key] = [node.items[seg], undefined];
      } else {
        return { node, key, complete: false };
      }
    }
    return { node, key, complete: true };
  }

  private pos(node: unknown): Position | undefined {
    const range = isNode(node) ? (node as Node).range : undefined;
    return range ? this.lines.linePos(range[0]) : undefined;
  }
}

function keyName(k: unknown): string {
  return isScalar(k) ? String(k.value) : String(k);
}
