import { BILLING_METRIC_NAMES } from '@app/common/metrics/metrics';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, register } from 'prom-client';
import { parse } from 'yaml';
import './database-gauges.collector';
import './queue-gauges.collector';

const ROOT = join(__dirname, '..', '..');
const ALERTS_PATH = join(ROOT, 'ops', 'prometheus', 'alerts.yml');
const DASHBOARD_PATH = join(ROOT, 'ops', 'grafana', 'billing-dashboard.json');

const METRIC_IDENTIFIER = /(?<![A-Za-z0-9_:])(?:billing|process|nodejs)_[A-Za-z0-9_]*/g;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface PanelTarget {
  expr?: string;
}

interface Panel {
  type: string;
  title: string;
  targets?: PanelTarget[];
  panels?: Panel[];
}

/** Metric names in a PromQL expression, leaving out the contents of quoted label values. */
function metricNamesIn(expression: string): string[] {
  const withoutStrings = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');

  return withoutStrings.match(METRIC_IDENTIFIER) ?? [];
}

/** Metric names in Go template text, where a `query "…"` call contains PromQL inside quotes. */
function metricNamesInTemplate(text: string): string[] {
  return text.match(METRIC_IDENTIFIER) ?? [];
}

async function exportedSeriesNames(): Promise<Set<string>> {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) {
    collectDefaultMetrics();
  }
  const names = new Set<string>();
  for (const metric of await register.getMetricsAsJSON()) {
    names.add(metric.name);
    const type = String(metric.type);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of HISTOGRAM_SUFFIXES) {
        names.add(`${metric.name}${suffix}`);
      }
    }
  }

  return names;
}

function loadAlertRules(): AlertRule[] {
  const document = parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> };

  return document.groups.flatMap((group) => group.rules);
}

function flattenPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...flattenPanels(panel.panels ?? [])]);
}

function loadDashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as {
    panels: Panel[];
    templating: { list: Array<{ definition?: string }> };
  };
  const panelExpressions = flattenPanels(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));
  const variableQueries = dashboard.templating.list.map((variable) => variable.definition ?? '');

  return [...panelExpressions, ...variableQueries].filter((expression) => expression.length > 0);
}

describe('ops/prometheus/alerts.yml', () => {
  it('parses into groups of rules with expressions', () => {
    const rules = loadAlertRules();

    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(typeof rule.expr).toBe('string');
    }
  });

  it('gives every alert a name, severity and summary', () => {
    for (const rule of loadAlertRules()) {
      expect(rule.alert).toMatch(/^Billing[A-Za-z]+$/);
      expect(rule.labels?.severity).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary).toBeTruthy();
    }
  });

  it('names only metrics the service exports', async () => {
    const exported = await exportedSeriesNames();
    const used = loadAlertRules().flatMap((rule) => [
      ...metricNamesIn(rule.expr),
      ...Object.values(rule.annotations ?? {}).flatMap(metricNamesInTemplate),
    ]);

    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it.each([
    ['failed inbox events', 'billing_webhook_events'],
    ['outbox lag', 'billing_outbox_lag_seconds'],
    ['signature failures', 'billing_webhook_signature_failures_total'],
    ['connections in error', 'billing_stripe_connections'],
    ['queue depth', 'billing_queue_jobs'],
    ['job failures', 'billing_job_failures_total'],
  ])('alerts on %s', (_, metric) => {
    const used = new Set(loadAlertRules().flatMap((rule) => metricNamesIn(rule.expr)));

    expect(used.has(metric)).toBe(true);
  });
});

describe('ops/grafana/billing-dashboard.json', () => {
  it('parses with panels that have queries', () => {
    expect(loadDashboardExpressions().length).toBeGreaterThan(0);
  });

  it('names only metrics the service exports', async () => {
    const exported = await exportedSeriesNames();
    const used = loadDashboardExpressions().flatMap(metricNamesIn);

    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('shows every billing metric', () => {
    const used = new Set(loadDashboardExpressions().flatMap(metricNamesIn));
    const isShown = (name: string) => used.has(name) || HISTOGRAM_SUFFIXES.some((suffix) => used.has(`${name}${suffix}`));

    expect(BILLING_METRIC_NAMES.filter((name) => !isShown(name))).toEqual([]);
  });

  it('shows process CPU and memory', () => {
    const used = new Set(loadDashboardExpressions().flatMap(metricNamesIn));

    expect(used.has('process_cpu_seconds_total')).toBe(true);
    expect(used.has('process_resident_memory_bytes')).toBe(true);
  });
});

describe('metricNamesIn', () => {
  it('skips names inside label values', () => {
    expect(metricNamesIn('rate(billing_a_total{reason="billing_not_a_metric"}[5m])')).toEqual(['billing_a_total']);
  });
});
