// The Prometheus endpoint: scraped over real HTTP, every chain_* value read from the status at scrape time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Agent, request } from 'node:http';
import { startMetrics } from '../../src/engine/metrics.js';
import { newLink, type DaemonStatus, type LinkStatus } from '../../src/engine/status.js';
import { ChainError } from '../../src/core/errors.js';

function fakeStatus(links: LinkStatus[]): DaemonStatus {
  const now = Date.now();
  return { host: 'host1', pid: process.pid, command: 'watch', config: '/c.yaml', root: '/r', ring: ['host1', 'host2', 'host3'], startedAt: now, updatedAt: now, links };
}

/** "name{labels} value" lines → map of "name{labels}" → value, plus each metric's TYPE */
function parse(text: string): { values: Map<string, number>; types: Map<string, string> } {
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else if (line && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      values.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  }
  return { values, types };
}

async function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url, { method });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

const L2 = 'link="host1->host2",target="host2"';
const L3 = 'link="host1->host3",target="host3"';

test('GET /metrics: every chain_* metric per link, typed as Prometheus expects, plus process defaults', async () => {
  const now = Date.now();
  const successor: LinkStatus = {
    ...newLink('host2', 'successor'), state: 'bypassed', pending: 12, oldestPendingAt: now - 42_000, lastSuccessAt: 1_700_000_000_000,
    filesPushed: 500, bytesPushed: 1_048_576, removed: 3, errors: 9, downSince: now - 50_000, lastError: 'connect ECONNREFUSED',
  };
  const bypass: LinkStatus = { ...newLink('host3', 'bypass'), state: 'up', filesPushed: 12 };
  const m = await startMetrics({ host: '127.0.0.1', port: 0, status: () => fakeStatus([successor, bypass]) });
  try {
    assert.match(m.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.notEqual(new URL(m.url).port, '0');
    const r = await get(m.url);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    const { values, types } = parse(r.body);

    assert.equal(values.get(`chain_pending{${L2}}`), 12);
    assert.equal(values.get(`chain_pending{${L3}}`), 0);
    const lag = values.get(`chain_lag_seconds{${L2}}`)!;
    assert.ok(lag >= 42 && lag < 50, `lag ${lag}`);
    assert.equal(values.get(`chain_lag_seconds{${L3}}`), 0);
    assert.equal(values.get(`chain_link_up{${L2}}`), 0, 'bypassed is not up');
    assert.equal(values.get(`chain_link_up{${L3}}`), 1);
    assert.equal(values.get(`chain_files_pushed_total{${L2}}`), 500);
    assert.equal(values.get(`chain_files_pushed_total{${L3}}`), 12);
    assert.equal(values.get(`chain_bytes_pushed_total{${L2}}`), 1_048_576);
    assert.equal(values.get(`chain_removed_total{${L2}}`), 3);
    assert.equal(values.get(`chain_errors_total{${L2}}`), 9);
    assert.equal(values.get(`chain_last_success_timestamp_seconds{${L2}}`), 1_700_000_000);
    assert.equal(values.has(`chain_last_success_timestamp_seconds{${L3}}`), false, 'no success yet: no sample, rather than a 1970 timestamp');

    for (const n of ['chain_files_pushed_total', 'chain_bytes_pushed_total', 'chain_removed_total', 'chain_errors_total']) assert.equal(types.get(n), 'counter', n);
    for (const n of ['chain_pending', 'chain_lag_seconds', 'chain_link_up', 'chain_last_success_timestamp_seconds']) assert.equal(types.get(n), 'gauge', n);
    assert.ok(types.has('process_cpu_user_seconds_total') && types.has('nodejs_heap_size_used_bytes'), 'default process metrics');
  } finally {
    await m.close();
  }
});

test('values follow the status from one scrape to the next; a link that went away disappears', async () => {
  let links: LinkStatus[] = [{ ...newLink('host2', 'successor'), state: 'up', filesPushed: 1 }, { ...newLink('host3', 'bypass'), state: 'up' }];
  const m = await startMetrics({ host: '127.0.0.1', port: 0, status: () => fakeStatus(links) });
  try {
    assert.equal(parse((await get(m.url)).body).values.get(`chain_files_pushed_total{${L2}}`), 1);
    links = [{ ...newLink('host2', 'successor'), state: 'down', filesPushed: 40 }];
    const { values } = parse((await get(m.url)).body);
    assert.equal(values.get(`chain_files_pushed_total{${L2}}`), 40, 'counters are the status value, not a sum of scrapes');
    assert.equal(values.get(`chain_link_up{${L2}}`), 0);
    assert.equal(values.has(`chain_link_up{${L3}}`), false);
  } finally {
    await m.close();
  }
});

test('only /metrics is served; HEAD works; other methods are refused; a failing status is a 500', async () => {
  let fail = false;
  const m = await startMetrics({
    host: '127.0.0.1', port: 0,
    status: () => {
      if (fail) throw new Error('status exploded');
      return fakeStatus([]);
    },
  });
  try {
    const base = m.url.replace(/\/metrics$/, '');
    assert.equal((await get(base + '/')).status, 404);
    assert.equal((await get(base + '/metricsx')).status, 404);
    assert.equal((await get(m.url + '?name[]=chain_pending')).status, 200);
    assert.equal((await get(m.url, 'HEAD')).status, 200);
    assert.equal((await get(m.url, 'POST')).status, 405);
    fail = true;
    const r = await get(m.url);
    assert.equal(r.status, 500);
    assert.match(r.body, /status exploded/);
  } finally {
    await m.close();
  }
});

test('a port in use: a ChainError naming the address and the metrics key', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(
      startMetrics({ host: '127.0.0.1', port, status: () => fakeStatus([]), configFile: '/etc/chain/chain.yaml' }),
      (e: unknown) => {
        assert.ok(e instanceof ChainError);
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.match(e.message, /in use/);
        assert.match(e.message + e.hint, /"metrics/);
        assert.match(e.hint ?? '', /\/etc\/chain\/chain\.yaml/);
        return true;
      },
    );
  } finally {
    busy.close();
  }
});

test('close frees the port at once, even with a keep-alive scraper connected', async () => {
  const m = await startMetrics({ host: '127.0.0.1', port: 0, status: () => fakeStatus([]) });
  const port = Number(new URL(m.url).port);
  // a keep-alive connection left open, as Prometheus keeps one
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: new Agent({ keepAlive: true }) }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
  const t0 = Date.now();
  await m.close();
  // node's keep-alive timeout is 5 s: waiting for it would take that long; 4 s leaves room for a busy machine
  assert.ok(Date.now() - t0 < 4000, 'close did not wait for the idle connection');
  await assert.rejects(fetch(m.url), 'nothing listens after close');
  const again = await startMetrics({ host: '127.0.0.1', port, status: () => fakeStatus([]) });
  await again.close();
});
