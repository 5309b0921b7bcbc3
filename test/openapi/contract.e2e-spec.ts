import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestApp, startTestApp } from '../support/test-app';

/**
 * The OpenAPI document the service publishes must list every route of the
 * HTTP contract, whose copy lives in docs/api.md. Routes that are not part of
 * the JSON API are left out: the emulator's, Prometheus' /metrics, Bull Board.
 */
const NOT_IN_OPENAPI = [/^\/_emulator\//, /^\/metrics$/, /^\/api\/docs-json$/];

function contractRoutes(): string[] {
  const text = readFileSync(join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
  const routes = new Set<string>();
  for (const match of text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]+)/g)) {
    const path = match[2].split('?')[0].replace(/:([A-Za-z]+)/g, '{$1}');
    if (!NOT_IN_OPENAPI.some((pattern) => pattern.test(path))) {
      routes.add(`${match[1]} ${path}`);
    }
  }

  return [...routes].sort();
}

/** `/api/v1/payments/{id}` and `/api/v1/payments/{paymentId}` name the same route. */
function normalise(route: string): string {
  return route.replace(/\{[^}]+\}/g, '{}');
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let published: Set<string>;

  beforeAll(async () => {
    t = await startTestApp();
    const response = await t.http().get('/api/docs-json').expect(200);
    published = new Set<string>();
    for (const [path, operations] of Object.entries(response.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) {
        published.add(normalise(`${method.toUpperCase()} ${path}`));
      }
    }
  });

  afterAll(async () => {
    await t.close();
  });

  it('reads routes from docs/api.md', () => {
    expect(contractRoutes().length).toBeGreaterThan(40);
  });

  it.each(contractRoutes())('publishes %s', (route) => {
    expect(published.has(normalise(route))).toBe(true);
  });
});
