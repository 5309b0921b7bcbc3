import { TENANT_ROLES, TenantRole } from '@app/common/roles/roles';
import request from 'supertest';
import { createCustomer, createDraft } from '../invoicing/invoicing-helpers';
import { AppRoute, listAppRoutes } from '../support/app-routes';
import { TenantFixture, createOperatorAuth, createTenant, createToken } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';
import { CSRF, createOperatorUser, createUser, loginCookie } from '../tenancy/tenancy-helpers';

const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const MALFORMED_ID = 'not-a-uuid';
const OPS_PREFIX = /^\/api\/v1\/ops(\/|$)/;
/** Ends the caller's session, so the sessions the other checks reuse never call it with success. */
const LOGOUT = 'POST /api/v1/auth/logout';

/**
 * Routes that need no credentials. A new public route fails this suite until
 * it is reviewed and added here.
 */
const PUBLIC_ROUTES = new Set([
  'POST /api/v1/auth/login',
  'POST /webhooks/stripe/:endpointToken',
  'GET /health/live',
  'GET /health/ready',
  'GET /metrics',
  'GET /admin',
  'GET /admin/login',
  'GET /admin/settings/billing',
  'GET /admin/payments',
  'GET /admin/invoices',
  'GET /admin/static/:name',
]);

/** Credentials as request headers: a bearer token, or a session cookie. */
interface Caller {
  name: string;
  headers: Record<string, string>;
  via: 'token' | 'session';
}

interface Principals {
  tenant: TenantFixture;
  byRole: Record<TenantRole, Caller[]>;
}

/** Creates a resource of the tenant that the route's `:id` names, and returns the id. */
type ResourceFactory = (tenant: TenantFixture) => Promise<string>;

interface IdRoute {
  create: ResourceFactory;
  /** A body that passes validation, so the response depends on the id alone. */
  body?: Record<string, unknown>;
}

describe('route isolation', () => {
  let t: TestApp;
  let routes: AppRoute[];
  let owner: Principals;
  let other: Principals;
  let bystander: Principals;
  let operators: Caller[];

  const createPayment: ResourceFactory = async (tenant) => {
    const response = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(response.status).toBe(201);

    return response.body.id as string;
  };

  const createCustomerId: ResourceFactory = async (tenant) => (await createCustomer(t, tenant)).id;

  const createDraftInvoice: ResourceFactory = async (tenant) => {
    const customer = await createCustomer(t, tenant);

    return (await createDraft(t, tenant, customer.id)).id;
  };

  /**
   * Every tenant route with a path parameter, with a factory for a real
   * resource it names. A new id route fails the suite until it is added here.
   */
  const ID_ROUTES: Record<string, IdRoute> = {
    'GET /api/v1/payments/:id': { create: createPayment },
    'GET /api/v1/payments/:id/refunds': { create: createPayment },
    'POST /api/v1/payments/:id/refunds': { create: createPayment, body: { amount: 100 } },
    'GET /api/v1/customers/:id': { create: createCustomerId },
    'GET /api/v1/invoices/:id': { create: createDraftInvoice },
    'DELETE /api/v1/invoices/:id': { create: createDraftInvoice },
    'POST /api/v1/invoices/:id/finalize': { create: createDraftInvoice },
    'POST /api/v1/invoices/:id/void': { create: createDraftInvoice },
  };

  async function principals(connected: boolean): Promise<Principals> {
    const tenant = await createTenant(t, 'owner');
    if (connected) {
      await connectStripe(t, tenant.auth);
    }

    const byRole = {} as Record<TenantRole, Caller[]>;
    for (const role of TENANT_ROLES) {
      const token = role === 'owner' ? tenant.auth : await createToken(t, tenant.tenantId, role);
      const user = await createUser(t, tenant.tenantId, role);
      const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });
      byRole[role] = [
        { name: `${role} token`, headers: token, via: 'token' },
        { name: `${role} session`, headers: { Cookie: cookie, ...CSRF }, via: 'session' },
      ];
    }

    return { tenant, byRole };
  }

  function send(route: AppRoute, path: string, headers: Record<string, string>, body?: Record<string, unknown>): request.Test {
    const call = t.http()[route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](path).set(headers);

    return route.method === 'GET' || route.method === 'DELETE' ? call : call.send(body ?? {});
  }

  /** Fills every path parameter with the same value. */
  function pathWith(route: AppRoute, value: string): string {
    return route.path.replace(/:([A-Za-z0-9_]+)/g, () => encodeURIComponent(value));
  }

  function describeResponse(route: AppRoute, caller: string, response: request.Response): string {
    return `${route.key} as ${caller}: ${response.status} ${response.text.slice(0, 300)}`;
  }

  const isOps = (route: AppRoute) => OPS_PREFIX.test(route.path);
  const guarded = () => routes.filter((route) => !route.isPublic);
  const tenantRoutes = () => guarded().filter((route) => !isOps(route));
  const opsRoutes = () => guarded().filter(isOps);

  beforeAll(async () => {
    t = await startTestApp();
    routes = listAppRoutes(t.app);
    owner = await principals(true);
    other = await principals(true);
    bystander = await principals(false);

    const operator = await createOperatorUser(t);
    const operatorCookie = await loginCookie(t, { email: operator.email, password: operator.password });
    operators = [
      { name: 'operator token', headers: await createOperatorAuth(t), via: 'token' },
      { name: 'operator session', headers: { Cookie: operatorCookie, ...CSRF }, via: 'session' },
    ];
  });

  afterAll(async () => {
    await t?.close();
  });

  it('classifies every registered route', () => {
    const unclassified: string[] = [];
    for (const route of routes) {
      if (route.isPublic) {
        if (!PUBLIC_ROUTES.has(route.key)) {
          unclassified.push(`${route.key} (${route.handler}) is @Public but not reviewed as public`);
        }
      } else if (isOps(route)) {
        if (!route.roles?.includes('operator')) {
          unclassified.push(`${route.key} (${route.handler}) is an ops route without @Roles('operator')`);
        }
      } else if (!route.roles || route.roles.length === 0) {
        unclassified.push(`${route.key} (${route.handler}) is a tenant route without @Roles`);
      } else if (route.params.length > 0 && !(route.key in ID_ROUTES)) {
        unclassified.push(`${route.key} (${route.handler}) has a path parameter but no resource factory`);
      }
    }

    expect(unclassified).toEqual([]);
    expect(routes.filter((route) => route.isPublic).map((route) => route.key).sort()).toEqual([...PUBLIC_ROUTES].sort());
    expect(tenantRoutes().filter((route) => route.params.length > 0).map((route) => route.key).sort()).toEqual(Object.keys(ID_ROUTES).sort());
  });

  it('answers 401 without valid credentials on every guarded route', async () => {
    const failures: string[] = [];
    const credentials: Caller[] = [
      { name: 'no credentials', headers: {}, via: 'token' },
      { name: 'an unknown token', headers: { Authorization: 'Bearer tok_unknown0000000000000000' }, via: 'token' },
      { name: 'a malformed Authorization header', headers: { Authorization: 'Basic dXNlcjpwYXNz' }, via: 'token' },
      { name: 'an unknown session', headers: { Cookie: 'billing_session=unknown-session', ...CSRF }, via: 'session' },
    ];
    for (const route of guarded()) {
      for (const caller of credentials) {
        const response = await send(route, pathWith(route, MISSING_ID), caller.headers);
        if (response.status !== 401 || response.body.code !== 'unauthenticated') {
          failures.push(describeResponse(route, caller.name, response));
        }
      }
    }

    expect(guarded().length).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it('answers 403 to a tenant role without the right', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of tenantRoutes()) {
      for (const role of TENANT_ROLES.filter((candidate) => !route.roles?.includes(candidate))) {
        for (const caller of bystander.byRole[role]) {
          checked++;
          const response = await send(route, pathWith(route, MISSING_ID), caller.headers);
          if (response.status !== 403 || response.body.code !== 'forbidden') {
            failures.push(describeResponse(route, caller.name, response));
          }
        }
      }
    }

    expect(checked).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it('lets a tenant role with the right past the guard', async () => {
    const failures: string[] = [];
    for (const route of tenantRoutes()) {
      for (const role of TENANT_ROLES.filter((candidate) => route.roles?.includes(candidate))) {
        for (const caller of bystander.byRole[role].filter((candidate) => candidate.via === 'token' || route.key !== LOGOUT)) {
          const response = await send(route, pathWith(route, MISSING_ID), caller.headers);
          if (response.status === 401 || response.status === 403) {
            failures.push(describeResponse(route, caller.name, response));
          }
        }
      }
    }

    expect(failures).toEqual([]);
  });

  it('answers 403 csrf_failed to a session write without the header', async () => {
    const failures: string[] = [];
    for (const route of guarded().filter((candidate) => candidate.method !== 'GET')) {
      for (const caller of [...TENANT_ROLES.map((role) => bystander.byRole[role][1]), operators[1]]) {
        const response = await send(route, pathWith(route, MISSING_ID), { Cookie: caller.headers.Cookie });
        if (response.status !== 403 || response.body.code !== 'csrf_failed') {
          failures.push(describeResponse(route, `${caller.name} without X-Requested-With`, response));
        }
      }
    }

    expect(failures).toEqual([]);
  });

  it('answers 403 to an operator on tenant routes', async () => {
    const failures: string[] = [];
    for (const route of tenantRoutes().filter((candidate) => !candidate.roles?.includes('operator'))) {
      for (const caller of operators) {
        const response = await send(route, pathWith(route, MISSING_ID), caller.headers);
        if (response.status !== 403 || response.body.code !== 'forbidden') {
          failures.push(describeResponse(route, caller.name, response));
        }
      }
    }

    expect(failures).toEqual([]);
  });

  it('answers 403 to every tenant principal on ops routes', async () => {
    const failures: string[] = [];
    for (const route of opsRoutes()) {
      for (const role of TENANT_ROLES) {
        for (const caller of owner.byRole[role]) {
          const response = await send(route, pathWith(route, owner.tenant.tenantId), caller.headers);
          if (response.status !== 403 || response.body.code !== 'forbidden') {
            failures.push(describeResponse(route, caller.name, response));
          }
        }
      }
    }

    expect(opsRoutes().length).toBeGreaterThan(5);
    expect(failures).toEqual([]);
  });

  it('lets an operator past the guard on ops routes', async () => {
    const failures: string[] = [];
    for (const route of opsRoutes()) {
      for (const caller of operators) {
        const response = await send(route, pathWith(route, MISSING_ID), caller.headers);
        if (response.status === 401 || response.status === 403) {
          failures.push(describeResponse(route, caller.name, response));
        }
      }
    }

    expect(failures).toEqual([]);
  });

  it('keeps tenant principals out of the queue dashboard', async () => {
    const failures: string[] = [];
    const dashboard = { method: 'GET', path: '/ops/queues', key: 'GET /ops/queues' } as AppRoute;
    for (const path of ['/ops/queues', '/ops/queues/api/queues']) {
      for (const caller of TENANT_ROLES.flatMap((role) => owner.byRole[role])) {
        // The dashboard takes only operator sessions, so a token is no credential there at all.
        const expected = caller.via === 'session' ? 403 : 401;
        const response = await send(dashboard, path, caller.headers);
        if (response.status !== expected) {
          failures.push(describeResponse({ ...dashboard, key: `GET ${path}` }, caller.name, response));
        }
      }

      const operatorResponse = await send(dashboard, path, operators[1].headers);
      if (operatorResponse.status !== 200) {
        failures.push(describeResponse({ ...dashboard, key: `GET ${path}` }, operators[1].name, operatorResponse));
      }
    }

    expect(failures).toEqual([]);
  });

  it("answers another tenant's id exactly as a missing one", async () => {
    const failures: string[] = [];
    for (const route of tenantRoutes().filter((candidate) => candidate.params.length > 0)) {
      const { create, body } = ID_ROUTES[route.key];
      const resourceId = await create(owner.tenant);
      const allowed = TENANT_ROLES.filter((role) => route.roles?.includes(role));

      for (const caller of allowed.flatMap((role) => other.byRole[role])) {
        const missing = await send(route, pathWith(route, MISSING_ID), caller.headers, body);
        const malformed = await send(route, pathWith(route, MALFORMED_ID), caller.headers, body);
        const foreign = await send(route, pathWith(route, resourceId), caller.headers, body);
        if (missing.status !== 404 || missing.body.code !== 'not_found') {
          failures.push(describeResponse(route, `${caller.name} with a missing id`, missing));
        }
        if (malformed.status !== 404 || malformed.text !== missing.text) {
          failures.push(describeResponse(route, `${caller.name} with a malformed id`, malformed));
        }
        if (foreign.status !== missing.status || foreign.text !== missing.text || foreign.headers['content-type'] !== missing.headers['content-type']) {
          failures.push(`${describeResponse(route, `${caller.name} with another tenant's id`, foreign)} (a missing id: ${missing.status} ${missing.text})`);
        }
      }

      // The owning tenant reaches the same resource, so the 404s above were not for a missing one.
      const own = await send(route, pathWith(route, resourceId), owner.tenant.auth, body);
      if (own.status === 404 || own.status >= 500) {
        failures.push(describeResponse(route, 'the owning tenant', own));
      }
    }

    expect(failures).toEqual([]);
  });
});
