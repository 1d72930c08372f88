// The Prometheus endpoint of `watch` (config key `metrics`): GET /metrics on a plain node http
// server. Every chain_* value is read from the daemon's status at scrape time, so the endpoint
// holds no state of its own; the process_* and nodejs_* defaults come from prom-client.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ChainError } from '../core/errors.js';
import { lagSeconds, type DaemonStatus, type LinkStatus } from './status.js';

export interface MetricsOptions {
  host: string;
  port: number;
  status: () => DaemonStatus;
  /** the config file, named in errors */
  configFile?: string;
}

export interface MetricsServer {
  /** http://host:port/metrics, with the port actually bound (port 0 = any free port) */
  url: string;
  close(): Promise<void>;
}

const LABELS = ['link', 'target'] as const;
type Label = (typeof LABELS)[number];
type Labels = Record<Label, string>;

/** The chain_* metrics of one registry; each scrape reads `snapshot()` once and every metric uses it. */
function chainMetrics(registers: Registry[], snapshot: () => DaemonStatus | null): void {
  const labels = (s: DaemonStatus, l: LinkStatus): Labels => ({ link: `${s.host}->${l.target}`, target: l.target });
  const perLink = (set: (put: (labels: Labels, v: number) => void, s: DaemonStatus, l: LinkStatus) => void) =>
    function (this: Gauge<Label> | Counter<Label>) {
      this.reset();
      const s = snapshot();
      if (!s) return;
      // counters only go up, so a counter's absolute value is set as reset + inc
      const put = (lb: Labels, v: number) => (this instanceof Counter ? this.inc(lb, Math.max(0, v)) : this.set(lb, v));
      for (const l of s.links) set(put, s, l);
    };
  const gauge = (name: string, help: string, value: (l: LinkStatus, s: DaemonStatus) => number | null) =>
    new Gauge({ name, help, labelNames: LABELS, registers, collect: perLink((put, s, l) => {
      const v = value(l, s);
      if (v !== null) put(labels(s, l), v);
    }) });
  const counter = (name: string, help: string, value: (l: LinkStatus) => number) =>
    new Counter({ name, help, labelNames: LABELS, registers, collect: perLink((put, s, l) => put(labels(s, l), value(l))) });

  gauge('chain_pending', 'Paths waiting to be pushed to the target.', (l) => l.pending);
  gauge('chain_lag_seconds', 'Age of the oldest change still waiting for the target (0 when nothing waits).', (l, s) =>
    lagSeconds(l, s.stoppedAt ?? Date.now()),
  );
  gauge('chain_link_up', '1 when the target is reachable and being pushed to, else 0 (down, bypassed, connecting).', (l) =>
    l.state === 'up' ? 1 : 0,
  );
  // absent until the first success, so `time() - chain_last_success_timestamp_seconds` never alerts on a fresh start
  gauge('chain_last_success_timestamp_seconds', 'Unix time of the last successful push to the target.', (l) =>
    l.lastSuccessAt === null ? null : l.lastSuccessAt / 1000,
  );
  counter('chain_files_pushed_total', 'Files pushed to the target since the daemon started.', (l) => l.filesPushed);
  counter('chain_bytes_pushed_total', 'Bytes of file content sent to the target since the daemon started.', (l) => l.bytesPushed);
  counter('chain_removed_total', 'Paths removed on the target since the daemon started.', (l) => l.removed);
  counter('chain_errors_total', 'Errors pushing to the target since the daemon started.', (l) => l.errors);
}

export async function startMetrics(o: MetricsOptions): Promise<MetricsServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let current: DaemonStatus | null = null;
  chainMetrics([registry], () => current);
  const scrape = async (): Promise<string> => {
    current = o.status();
    return registry.metrics();
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('use GET\n');
      return;
    }
    // one snapshot per scrape: the collectors of registry.metrics() all run before its first await
    scrape().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`chain: cannot collect metrics: ${err.message}\n`),
    );
  });

  const port = await listen(server, o);
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive scrapers would otherwise hold close() open
        registry.clear();
      }),
  };
}

function listen(server: Server, o: MetricsOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, o)));
    server.listen(o.port, o.host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : o.port);
    });
  });
}

function listenError(err: NodeJS.ErrnoException, o: MetricsOptions): ChainError {
  const addr = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  const file = o.configFile ?? 'the config';
  const why =
    err.code === 'EADDRINUSE'
      ? ['the address is already in use', `stop what listens there (ss -ltnp 'sport = :${o.port}') or choose another port with "metrics:" in ${file}`]
      : err.code === 'EACCES'
        ? [`this user may not listen on port ${o.port}`, `choose a port above 1023 with "metrics:" in ${file}`]
        : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
          ? [`${o.host} is not an address of this machine`, `listen on one of its addresses (or 0.0.0.0) with "metrics:" in ${file}`]
          : [err.message, `check "metrics:" in ${file}`];
  return new ChainError(`cannot serve metrics on ${addr} (config key "metrics"): ${why[0]}`, { hint: why[1], cause: err });
}
