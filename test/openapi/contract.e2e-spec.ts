import { randomUUID } from 'node:crypto';
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

/** Routes of the contract that need no credentials. Every other route needs a token or a session. */
const PUBLIC_ROUTES = ['GET /health/live', 'GET /health/ready', 'POST /api/v1/auth/login', 'POST /webhooks/stripe/{endpointToken}'];

/** Routes without a body, query, header or path parameter. Every other route documents 400. */
const ROUTES_WITHOUT_INPUT = [
  'GET /health/live',
  'GET /health/ready',
  'GET /api/v1/settings/billing',
  'DELETE /api/v1/settings/billing/stripe',
  'GET /api/v1/auth/me',
  'GET /api/v1/ops/queues',
];

/** Routes whose controllers declare their own 400, which the document keeps as declared. */
const DECLARED_400 = [
  'POST /api/v1/customers',
  'POST /api/v1/invoices',
  'POST /api/v1/settings/billing/stripe',
  'PUT /api/v1/settings/billing/stripe/keys',
  'PUT /api/v1/ops/tenants/{tenantId}/webhook-secret',
  'GET /api/v1/ops/webhook-events',
  'POST /api/v1/ops/webhook-events/replay',
  'POST /webhooks/stripe/{endpointToken}',
];

/** The only authenticated route that never returns 403: a GET that every role may use, so neither the role nor CSRF is checked. */
const NEVER_FORBIDDEN = ['GET /api/v1/auth/me'];

const PROBLEM_SCHEMA = '#/components/schemas/ProblemDetailsResponse';

interface OpenApiResponse {
  description: string;
  headers?: Record<string, { schema?: { type?: string } }>;
  content?: Record<string, { schema?: { $ref?: string } }>;
}

interface OpenApiOperation {
  responses: Record<string, OpenApiResponse>;
  security?: Record<string, string[]>[];
}

interface OpenApiProperty {
  type?: string;
  items?: { $ref?: string };
  properties?: object;
  additionalProperties?: unknown;
  $ref?: string;
  allOf?: unknown[];
  oneOf?: unknown[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, { properties: Record<string, OpenApiProperty>; required?: string[] }> };
}

/** Returns the schema reference of a response's problem+json body, or undefined. */
function problemSchemaOf(response: OpenApiResponse | undefined): string | undefined {
  return response?.content?.['application/problem+json']?.schema?.$ref;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: OpenApiDocument;
  let published: Map<string, OpenApiOperation>;

  beforeAll(async () => {
    t = await startTestApp();
    const response = await t.http().get('/api/docs-json').expect(200);
    document = response.body as OpenApiDocument;
    published = new Map<string, OpenApiOperation>();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        published.set(normalise(`${method.toUpperCase()} ${path}`), operation);
      }
    }
  });

  function operationOf(route: string): OpenApiOperation {
    const operation = published.get(normalise(route));
    if (operation === undefined) {
      throw new Error(`${route} is not in the OpenAPI document.`);
    }

    return operation;
  }

  afterAll(async () => {
    await t.close();
  });

  it('reads routes from docs/api.md', () => {
    expect(contractRoutes().length).toBeGreaterThan(40);
  });

  it.each(contractRoutes())('publishes %s', (route) => {
    expect(published.has(normalise(route))).toBe(true);
  });

  it('gives every schema property a usable type', () => {
    // A property typed as a union such as `string | null` reaches the document as a bare
    // `object` unless its decorator names the type, and clients generated from it expect one.
    const bare = Object.entries(document.components.schemas).flatMap(([schema, { properties }]) =>
      Object.entries(properties ?? {})
        .filter(([, property]) => property.type === 'object' && !property.properties && !property.additionalProperties && !property.$ref && !property.allOf && !property.oneOf)
        .map(([name]) => `${schema}.${name}`),
    );

    expect(bare).toEqual([]);
  });

  describe('error responses', () => {
    const authenticated = contractRoutes().filter((route) => !PUBLIC_ROUTES.includes(route));

    it('defines one problem details schema', () => {
      const schema = document.components.schemas.ProblemDetailsResponse;

      expect(schema.required).toEqual(['type', 'title', 'status', 'code', 'detail']);
      expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code', 'detail', 'errors', 'paymentId']));
      expect(schema.properties.errors.items?.$ref).toBe('#/components/schemas/FieldErrorResponse');
      expect(document.components.schemas.FieldErrorResponse.required).toEqual(['field', 'message']);
    });

    it.each(contractRoutes().filter((route) => !ROUTES_WITHOUT_INPUT.includes(route) && !DECLARED_400.includes(route)))('documents 400 on %s', (route) => {
      const response = operationOf(route).responses['400'];

      expect(response?.description).toMatch(/^`validation_failed`/);
      expect(problemSchemaOf(response)).toBe(PROBLEM_SCHEMA);
    });

    it.each(DECLARED_400)('keeps the declared 400 of %s', (route) => {
      const response = operationOf(route).responses['400'];

      expect(response?.description).toMatch(/validation_failed|signature_invalid/);
      expect(response?.description).not.toMatch(/^`validation_failed`: the body, query or a header is invalid/);
    });

    it.each(ROUTES_WITHOUT_INPUT)('documents no 400 on %s', (route) => {
      expect(operationOf(route).responses['400']).toBeUndefined();
    });

    it.each(authenticated)('documents 401 on %s', (route) => {
      expect(problemSchemaOf(operationOf(route).responses['401'])).toBe(PROBLEM_SCHEMA);
    });

    it.each(authenticated.filter((route) => !NEVER_FORBIDDEN.includes(route)))('documents 403 on %s', (route) => {
      expect(problemSchemaOf(operationOf(route).responses['403'])).toBe(PROBLEM_SCHEMA);
    });

    it.each(NEVER_FORBIDDEN)('documents no 403 on %s', (route) => {
      expect(operationOf(route).responses['403']).toBeUndefined();
    });

    it.each(authenticated)('documents 429 with Retry-After on %s', (route) => {
      const response = operationOf(route).responses['429'];

      expect(problemSchemaOf(response)).toBe(PROBLEM_SCHEMA);
      expect(response.headers?.['Retry-After']?.schema?.type).toBe('integer');
    });

    it.each(authenticated)('lists the token and the cookie on %s', (route) => {
      expect(operationOf(route).security).toEqual([{ bearer: [] }, { cookie: [] }]);
    });

    it.each(PUBLIC_ROUTES)('lists no credentials on public %s', (route) => {
      expect(operationOf(route).security).toBeUndefined();
    });

    it.each(authenticated)('returns 401 without credentials on %s', async (route) => {
      const [method, path] = route.split(' ');
      const response = await t.http()[method.toLowerCase() as 'get'](path.replace(/\{[^}]+\}/g, randomUUID()));

      expect(response.status).toBe(401);
    });

    it.each(PUBLIC_ROUTES)('returns no 401 on public %s', async (route) => {
      const [method, path] = route.split(' ');
      const response = await t.http()[method.toLowerCase() as 'get'](path.replace(/\{[^}]+\}/g, randomUUID()));

      expect(response.status).not.toBe(401);
    });

    it.each(['GET /health/live', 'GET /health/ready', 'POST /webhooks/stripe/{endpointToken}'])('documents no 401 or 403 on public %s', (route) => {
      const responses = operationOf(route).responses;

      expect(responses['401']).toBeUndefined();
      expect(responses['403']).toBeUndefined();
    });

    it.each(['GET /health/live', 'GET /health/ready'])('documents no 429 on %s', (route) => {
      expect(operationOf(route).responses['429']).toBeUndefined();
    });

    it('documents the login failures without 403', () => {
      const responses = operationOf('POST /api/v1/auth/login').responses;

      expect(responses['401'].description).toContain('password is wrong');
      expect(responses['429'].headers?.['Retry-After']).toBeDefined();
      expect(responses['403']).toBeUndefined();
    });

    it('keeps the 429 that webhook intake declares', () => {
      expect(operationOf('POST /webhooks/stripe/{endpointToken}').responses['429'].description).toMatch(/^rate_limited: too many failed signatures/);
    });

    it('keeps the declared 402 of payments', () => {
      expect(operationOf('POST /api/v1/payments').responses['402'].description).toContain('card_declined');
    });

    it('gives declared errors the problem schema', () => {
      const problem = { $ref: '#/components/schemas/ProblemDetailsResponse' };

      expect(operationOf('POST /api/v1/payments').responses['402'].content?.['application/problem+json'].schema).toEqual(problem);
      expect(operationOf('GET /api/v1/ops/tenants/{tenantId}').responses['404'].content?.['application/problem+json'].schema).toEqual(problem);
      expect(operationOf('POST /webhooks/stripe/{endpointToken}').responses['429'].headers?.['Retry-After']).toBeDefined();
    });

    it('documents the conflicts of the ops routes', () => {
      expect(operationOf('POST /api/v1/ops/tenants').responses['409'].description).toContain('already_exists');
      expect(operationOf('POST /api/v1/ops/tenants/{tenantId}/live-mode').responses['409'].description).toContain('invalid_state');
    });
  });
});
