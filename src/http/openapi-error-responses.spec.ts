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

  it('keeps a status the operation declares', () => {
    const declared = { description: 'validation_failed: the name is taken' };
    const document = documentWith('/api/v1/things', 'post', { operationId: 'Things_create', responses: { 400: declared } });

    addErrorResponses(document, new Map([['Things_create', { ...AUTHENTICATED, takesBody: true }]]));

    expect(document.paths['/api/v1/things'].post?.responses[400]).toBe(declared);
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
