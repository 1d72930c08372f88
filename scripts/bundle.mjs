#!/usr/bin/env node
// `npm run build`, after tsc: bundles tsc's dist/src/cli/main.js and what it imports into dist/cli/,
// which bin/chain runs. Resolving and reading up to ~330 small modules (ours, yargs, zod, yaml...)
// was most of a command's start-up; a few larger files load faster. Code splitting keeps main.ts's lazy
// loading: each import() becomes its own chunk, and code shared by commands goes into chunks that
// only those commands load. dist/cli.meta.json (not shipped) says which modules each chunk holds.
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'cli');
const YARGS = dirname(createRequire(import.meta.url).resolve('yargs/package.json'));

// Loaded from node_modules at run time. @parcel/watcher: a native addon, prebuilt per platform.
// ssh2: its optional native AES-GCM/ChaCha addon (built at install) must match its own JS, and
// an ssh2 fix should reach installs without a rebuild of chain; bundled it loads only ~15 ms faster.
const EXTERNAL = ['@parcel/watcher', 'ssh2'];

// yargs reads its message files (locales/*.json) relative to its own module; the bundle has a copy
const YARGS_LOCALES = { from: "resolve(__dirname, '../../../locales')", to: "fileURLToPath(new URL('locales', import.meta.url))" };

const plugin = {
  name: 'chain',
  setup(b) {
    // a native addon's package belongs in EXTERNAL: given a loader instead, a require('./x.node')
    // either finds nothing beside the chunk (and ssh2's try/catch hides that) or the build machine's
    // copy of the addon
    b.onResolve({ filter: /\.node$/ }, (args) => {
      throw new Error(`${args.importer} loads the native addon ${args.path}: add its package to EXTERNAL in scripts/bundle.mjs`);
    });
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(YARGS_LOCALES.from)) throw new Error(`${args.path} no longer has ${YARGS_LOCALES.from}: see YARGS_LOCALES in scripts/bundle.mjs`);
      return { contents: text.replace(YARGS_LOCALES.from, YARGS_LOCALES.to), loader: 'js' };
    });
  },
};

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT, // the metafile's paths are relative to it
  entryPoints: [join(ROOT, 'dist', 'src', 'cli', 'main.js')],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS bundled into ES modules (picomatch, fast-glob, prom-client...) calls require()
  banner: { js: "import { createRequire as __chainRequire } from 'node:module'; const require = __chainRequire(import.meta.url);" },
  // linked maps, through tsc's, to src/*.ts: `node --enable-source-maps bin/chain` when a stack
  // trace should name TypeScript lines (not by default: it costs start-up)
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [plugin],
});
cpSync(join(YARGS, 'locales'), join(OUT, 'locales'), { recursive: true });
writeFileSync(join(ROOT, 'dist', 'cli.meta.json'), JSON.stringify(result.metafile, null, 1));
