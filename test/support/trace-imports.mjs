// `node --import ./trace-imports.mjs ...`: appends the URL of every ES module the process resolves
// (static imports and import() alike) to the file named by $TRACE_IMPORTS, one a line. Tests use it
// to see which modules a command loads.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.TRACE_IMPORTS) appendFileSync(process.env.TRACE_IMPORTS, r.url + '\\n');
  return r;
}
`),
);
