import type { OpenAPIObject, OperationObject } from '@nestjs/swagger';
import { RouteAccess, addErrorResponses, listCredentials } from './openapi-error-responses';

const AUTHENTICATED: RouteAccess = { isPublic: false, roles: undefined, takesBody: false };

function documentWith(path: string, method: 'get' | 'post', operation: OperationObject): OpenAPIObject {
  return { openapi: '3.0.0', info: { title: 'test', version: '1' }, paths: { [path]: { [method]: operation } } };
}

function statusesOf(document: OpenAPIObject, path: string, method: 'get' | 'post'): string[] {
  return Object.keys(document.paths[path][method]?.responses ?? {}).sort();
}

describe('addErrorResponses', () => {
  it('adds 400, 401, 403 and 429 to an authenticated write', () => {
    const document = documentWith('/api/v1/things', 'post', { operationId: 'Things_create', responses: { 201: { description: '' } } });

    addErrorResponses(document, new Map([['Things_create', { ...AUTHENTICATED, takesBody: true }]]));

    expect(statusesOf(document, '/api/v1/things', 'post')).toEqual(['201', '400', '401', '403', '429']);
  });

  it('keeps the description of a declared status', () => {
    const declared = { description: 'validation_failed: the name is taken' };
    const document = documentWith('/api/v1/things', 'post', { operationId: 'Things_create', responses: { 400: declared } });

    addErrorResponses(document, new Map([['Things_create', { ...AUTHENTICATED, takesBody: true }]]));

    expect(document.paths['/api/v1/things'].post?.responses[400]).toMatchObject(declared);
  });

  it('adds only 400 to a public route with a body', () => {
    const document = documentWith('/api/v1/auth/login', 'post', { operationId: 'Auth_login', responses: { 200: { description: '' } } });

    addErrorResponses(document, new Map([['Auth_login', { isPublic: true, roles: undefined, takesBody: true }]]));

    expect(statusesOf(document, '/api/v1/auth/login', 'post')).toEqual(['200', '400']);
  });

  it('adds no 403 to a GET that every role may use', () => {
    const document = documentWith('/api/v1/auth/me', 'get', { operationId: 'Auth_me', responses: { 200: { description: '' } } });

    addErrorResponses(document, new Map([['Auth_me', { ...AUTHENTICATED, roles: ['owner', 'admin', 'staff', 'operator'] }]]));

    expect(statusesOf(document, '/api/v1/auth/me', 'get')).toEqual(['200', '401', '429']);
  });

  it('adds 403 to a GET that refuses a role', () => {
    const document = documentWith('/api/v1/things', 'get', { operationId: 'Things_list', responses: { 200: { description: '' } } });

    addErrorResponses(document, new Map([['Things_list', { ...AUTHENTICATED, roles: ['owner'] }]]));

    expect(document.paths['/api/v1/things'].get?.responses[403]).toMatchObject({ description: "`forbidden`: the caller's role may not use this route." });
  });

  it('gives a declared error the problem body', () => {
    const document = documentWith('/api/v1/things', 'get', { operationId: 'Things_get', responses: { 404: { description: '`not_found`' } } });

    addErrorResponses(document, new Map([['Things_get', AUTHENTICATED]]));

    expect(document.paths['/api/v1/things'].get?.responses[404]).toMatchObject({
      description: '`not_found`',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetailsResponse' } } },
    });
  });

  it('gives a declared 429 its Retry-After header', () => {
    const document = documentWith('/webhooks/stripe/{token}', 'post', { operationId: 'Webhooks_receive', responses: { 429: { description: '`rate_limited`' } } });

    addErrorResponses(document, new Map([['Webhooks_receive', { isPublic: true, roles: undefined, takesBody: true }]]));

    expect(document.paths['/webhooks/stripe/{token}'].post?.responses[429]).toMatchObject({ headers: { 'Retry-After': expect.any(Object) } });
  });

  it('leaves the 503 of a health route alone', () => {
    const declared = { description: 'not ready' };
    const document = documentWith('/health/ready', 'get', { operationId: 'Health_ready', responses: { 503: declared } });

    addErrorResponses(document, new Map([['Health_ready', { isPublic: true, roles: undefined, takesBody: false }]]));

    expect(document.paths['/health/ready'].get?.responses[503]).toBe(declared);
  });

  it('rejects an operation that matches no route', () => {
    const document = documentWith('/api/v1/things', 'get', { operationId: 'Things_list', responses: {} });

    expect(() => addErrorResponses(document, new Map())).toThrow('GET /api/v1/things has the operationId Things_list, which names no controller method');
  });
});

describe('listCredentials', () => {
  function documentWithSchemes(): OpenAPIObject {
    return {
      ...documentWith('/api/v1/things', 'get', { operationId: 'Things_list', responses: {} }),
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: 'billing_session' } } },
    };
  }

  it('lists every scheme on an authenticated route', () => {
    const document = documentWithSchemes();

    listCredentials(document, new Map([['Things_list', AUTHENTICATED]]));

    expect(document.paths['/api/v1/things'].get?.security).toEqual([{ bearer: [] }, { cookie: [] }]);
  });

  it('lists none on a public route', () => {
    const document = documentWithSchemes();

    listCredentials(document, new Map([['Things_list', { ...AUTHENTICATED, isPublic: true }]]));

    expect(document.paths['/api/v1/things'].get?.security).toBeUndefined();
  });
});
