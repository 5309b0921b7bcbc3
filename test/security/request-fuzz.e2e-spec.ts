import { ERROR_CATALOG } from '@app/common/errors/error-codes';
import { getMetadataStorage } from 'class-validator';
import fc from 'fast-check';
import { AppRoute, listAppRoutes } from '../support/app-routes';
import { TenantFixture, createOperatorAuth, createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';

const SEED = Number(process.env.FC_SEED ?? 20261204);
const RUNS = Number(process.env.FC_RUNS ?? 100);
const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const KNOWN_CODES = new Set(Object.keys(ERROR_CATALOG));

/** Webhook intake reads the raw body for its signature, and the signature parser has its own property tests. */
const RAW_BODY_ROUTES = new Set(['POST /webhooks/stripe/:endpointToken']);

/** Field names of nested request objects (invoice lines, tax ids, addresses) and common wrong guesses. */
const NESTED_FIELDS = ['description', 'quantity', 'unitAmount', 'type', 'value', 'line1', 'line2', 'city', 'state', 'postalCode', 'country', 'id', 'amount'];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** Values whose JSON text JSON.stringify cannot produce: overflowing, underflowing and over-precise numbers. */
const NUMBER_TEXTS = ['1e999', '-1e999', '1e-400', '-0', '123456789012345678901234567890', '9007199254740993', '0.1e1', '2147483648', '-1'];

const SAMPLE_STRINGS = [
  '',
  ' ',
  'usd',
  'USD',
  'jpy',
  'pm_card_visa',
  'pm_card_chargeDeclined',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'pk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'whsec_0123456789abcdef0123',
  MISSING_ID,
  'owner',
  'operator',
  'failed',
  'requested_by_customer',
  'buyer@example.com',
  '2026-12-04T19:35:00.000Z',
  '2026-13-45',
  'America/Chicago',
  'Not/AZone',
  '\u0000',
  '\u202e\ud83d\ude00',
];

function deepText(depth: number, open: string, close: string, leaf: string): string {
  return `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;
}

/** JSON texts of any type, including what a careless or hostile client sends. */
const valueText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.constantFrom(...NUMBER_TEXTS),
  fc.constantFrom(...SAMPLE_STRINGS).map((text) => JSON.stringify(text)),
  fc.string({ unit: 'binary', maxLength: 300 }).map((text) => JSON.stringify(text)),
  fc.string({ maxLength: 5 }).map((text) => JSON.stringify(text.repeat(5000))),
  fc.integer({ min: 1, max: 3000 }).map((depth) => deepText(depth, '[', ']', '1')),
  fc.integer({ min: 1, max: 3000 }).map((depth) => deepText(depth, '{"description":', '}', '"x"')),
  fc.array(
    fc.dictionary(fc.constantFrom(...NESTED_FIELDS), fc.jsonValue({ maxDepth: 1 })).map((line) => JSON.stringify(line)),
    { maxLength: 3 },
  ).map((items) => `[${items.join(',')}]`),
);

function objectText(entries: [string, string][]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/** Bodies for one route: objects over its DTO's fields with random values, other JSON, and text that is no JSON. */
function bodyText(fields: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...(fields.length > 0 ? fields : NESTED_FIELDS)) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  );

  return fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.tuple(key, valueText), { maxLength: 8 }).map(objectText) },
    { weight: 1, arbitrary: valueText },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  );
}

function fieldsOf(route: AppRoute): string[] {
  if (!route.bodyType) {
    return [];
  }

  const metadata = getMetadataStorage().getTargetValidationMetadatas(route.bodyType, '', true, false);

  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

describe('request body fuzzing', () => {
  let t: TestApp;
  let routes: AppRoute[];
  let tenant: TenantFixture;
  let operatorAuth: { Authorization: string };
  let paymentId: string;

  beforeAll(async () => {
    t = await startTestApp();
    routes = listAppRoutes(t.app);
    tenant = await createTenant(t, 'owner');
    await connectStripe(t, tenant.auth);
    operatorAuth = await createOperatorAuth(t);

    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 500000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(payment.status).toBe(201);
    paymentId = payment.body.id;
  });

  afterAll(async () => {
    await t?.close();
  });

  /** Real ids where a route with a body names one, so that a body that passes validation reaches the handler's work. */
  function pathOf(route: AppRoute): string {
    const values: Record<string, string> = {
      tenantId: tenant.tenantId,
      queue: 'webhook-events',
      id: route.path.startsWith('/api/v1/payments/') ? paymentId : MISSING_ID,
    };

    return route.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => values[name] ?? MISSING_ID);
  }

  function credentialsOf(route: AppRoute): Record<string, string> {
    if (route.isPublic) {
      return {};
    }

    return route.path.startsWith('/api/v1/ops/') ? operatorAuth : tenant.auth;
  }

  it('answers every write route with problem details, never a 500', async () => {
    const targets = routes.filter((route) => ['POST', 'PUT', 'PATCH'].includes(route.method) && !RAW_BODY_ROUTES.has(route.key));
    const failures: string[] = [];

    for (const route of targets) {
      const fields = fieldsOf(route);
      try {
        await fc.assert(
          fc.asyncProperty(bodyText(fields), async (body) => {
            const call = t.http()[route.method.toLowerCase() as 'post' | 'put' | 'patch'](pathOf(route));
            const response = await call.set(credentialsOf(route)).set('Content-Type', 'application/json').send(body);
            const summary = `${route.key}: ${response.status} ${response.text.slice(0, 300)}`;

            expect({ summary, serverError: response.status >= 500 }).toEqual({ summary, serverError: false });
            if (response.status >= 400) {
              expect({ summary, contentType: response.headers['content-type'] }).toEqual({ summary, contentType: expect.stringMatching(/^application\/problem\+json/) });
              expect({ summary, known: KNOWN_CODES.has(response.body.code), status: response.body.status }).toEqual({ summary, known: true, status: response.status });
            }
          }),
          { seed: SEED, numRuns: RUNS },
        );
      } catch (error) {
        failures.push(`${route.key} (FC_SEED=${SEED}): ${(error as Error).message.slice(0, 2000)}`);
      }
    }

    expect(targets.length).toBeGreaterThan(15);
    expect(failures).toEqual([]);
  }, 600_000);
});
