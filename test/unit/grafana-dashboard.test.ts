/**
 * deploy/grafana/hms-router-dashboard.json cannot drift from the router's metrics: every metric a
 * PromQL expression (panel, template variable, annotation) names exists in RouterMetrics' registry
 * (histograms as _bucket/_count/_sum), every label it filters, groups or shows by belongs to those
 * metrics (or is a scrape label), and the metric families the dashboard is for each have a panel.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RouterMetrics } from '../../src/admin/metrics';

const DASHBOARD = join(__dirname, '..', '..', 'deploy', 'grafana', 'hms-router-dashboard.json');
/** Labels Prometheus adds at scrape time. */
const SCRAPE_LABELS = ['instance', 'job'];
const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

interface Query { readonly where: string; readonly expr: string; readonly legend?: string }

interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string };
  targets?: Array<{ expr: string; legendFormat?: string; refId: string; datasource?: { uid: string } }>; panels?: Panel[] }

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string; uid: string; schemaVersion: number; panels: Panel[];
  templating: { list: Array<{ name: string; type: string; definition?: string; query?: unknown }> };
  annotations: { list: Array<{ name: string; expr?: string }> };
};

function allPanels(): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function queries(): Query[] {
  const out: Query[] = [];
  for (const p of allPanels()) for (const t of p.targets ?? []) out.push({ where: `panel '${p.title}' ${t.refId}`, expr: t.expr, legend: t.legendFormat });
  for (const a of dashboard.annotations.list) if (a.expr !== undefined) out.push({ where: `annotation '${a.name}'`, expr: a.expr });
  return out;
}

/** Series names the registry exposes, with their label names. */
async function registrySeries(): Promise<Map<string, Set<string>>> {
  const metrics = new RouterMetrics();
  const series = new Map<string, Set<string>>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    const single = metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
    const labels = [...(single.labelNames ?? []), ...SCRAPE_LABELS];
    const type = String(m.type);
    if (type === 'histogram') {
      series.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      series.set(`${m.name}_count`, new Set(labels));
      series.set(`${m.name}_sum`, new Set(labels));
    } else if (type === 'summary') {
      series.set(m.name, new Set([...labels, 'quantile']));
      series.set(`${m.name}_count`, new Set(labels));
      series.set(`${m.name}_sum`, new Set(labels));
    } else {
      series.set(m.name, new Set(labels));
    }
  }
  return series;
}

/**
 * What an expression uses: metric names (every identifier left once strings, label matchers,
 * ranges and grouping lists are set aside, and that is not a function call or keyword), the label
 * matchers of each selector, and the grouping labels.
 */
function parseExpr(expr: string): { metrics: string[]; selectors: Array<{ metric: string; labels: string[] }>; grouping: string[] } {
  const selectors: Array<{ metric: string; labels: string[] }> = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    selectors.push({ metric: m[1]!, labels: [...m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!) });
  }
  const grouping = [...expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)]
    .flatMap((m) => m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const metrics = [...bare.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((id) => !PROMQL_KEYWORDS.has(id.toLowerCase()));
  return { metrics, selectors, grouping };
}

describe('Grafana dashboard', () => {
  it('is a dashboard with unique panel ids, a Prometheus datasource variable and panels inside the grid', () => {
    expect(dashboard.title).toBe('hms-router');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });

  it('names only metrics and labels the router exports', async () => {
    const series = await registrySeries();
    const problems: string[] = [];
    for (const q of queries()) {
      const { metrics, selectors, grouping } = parseExpr(q.expr);
      if (metrics.length === 0) problems.push(`${q.where}: names no metric: ${q.expr}`);
      const known = new Set<string>();
      for (const name of metrics) {
        const labels = series.get(name);
        if (labels === undefined) problems.push(`${q.where}: unknown metric ${name}`);
        else for (const l of labels) known.add(l);
      }
      for (const s of selectors) {
        for (const l of s.labels) if (series.has(s.metric) && !series.get(s.metric)!.has(l)) problems.push(`${q.where}: ${s.metric} has no label ${l}`);
      }
      for (const l of grouping) if (!known.has(l)) problems.push(`${q.where}: groups by ${l}, which none of ${metrics.join(', ')} has`);
      for (const m of (q.legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        if (!known.has(m[1]!)) problems.push(`${q.where}: legend shows ${m[1]}, which none of ${metrics.join(', ')} has`);
      }
    }
    for (const v of dashboard.templating.list) {
      if (v.type !== 'query') continue;
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.definition ?? '');
      if (m === null) { problems.push(`variable ${v.name}: expected label_values(metric, label), got ${v.definition}`); continue; }
      if (!series.get(m[1]!)?.has(m[2]!)) problems.push(`variable ${v.name}: ${m[1]} has no label ${m[2]}`);
    }
    expect(problems).toEqual([]);
  });

  it('has a panel for each metric family it is meant to show', () => {
    const used = new Set(queries().flatMap((q) => parseExpr(q.expr).metrics));
    const required = [
      'hms_router_calls_total', // calls by metastore, method, outcome; replica share
      'hms_router_call_duration_seconds_bucket', // latency p50, p99
      'hms_router_replica_lag_transactions', 'hms_router_replica_lag_seconds',
      'hms_router_read_fallbacks_total', 'hms_router_backend_errors_total', 'hms_router_backend_pool_connections',
      'hms_router_protocol_errors_total', 'hms_router_routing_reloads_total',
      'hms_router_listings_total', 'hms_router_listing_batches_total', 'hms_router_listing_duration_seconds_bucket',
      'hms_router_client_connections', 'hms_router_client_connections_total',
    ];
    expect(required.filter((m) => !used.has(m))).toEqual([]);
    const share = queries().find((q) => /role="replica"/.test(q.expr) && /kind="read"/.test(q.expr));
    expect(share?.where).toMatch(/Replica share/);
    expect(queries().filter((q) => /histogram_quantile\(0\.99, .*hms_router_call_duration_seconds_bucket/.test(q.expr))).not.toHaveLength(0);
    expect(queries().filter((q) => /histogram_quantile\(0\.5, .*hms_router_call_duration_seconds_bucket/.test(q.expr))).not.toHaveLength(0);
  });

  it('the expression check itself catches a drifted name, label or grouping', async () => {
    const series = await registrySeries();
    const parsed = parseExpr('histogram_quantile(0.99, sum by (le, metastore) (rate(hms_router_call_duration_seconds_bucket{metastore=~"$m"}[$__rate_interval]))) / 1e9');
    expect(parsed.metrics).toEqual(['hms_router_call_duration_seconds_bucket']);
    expect(parsed.grouping).toEqual(['le', 'metastore']);
    expect(series.has(parseExpr('rate(hms_router_call_total[5m])').metrics[0]!)).toBe(false);
    expect(series.get('hms_router_protocol_errors_total')!.has('metastore')).toBe(false);
    expect(parseExpr('up{job="x"} and on (instance) hms_router_client_connections').metrics).toEqual(['up', 'hms_router_client_connections']);
  });
});
