import { ProblemDetailsResponse } from '@app/common/errors/problem-details.response';
import { PUBLIC_KEY, ROLES_KEY, Role } from '@app/common/roles/roles';
import { INestApplication, Type } from '@nestjs/common';
import { PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { RouteAccess, addErrorResponses, listCredentials } from './openapi-error-responses';

/**
 * Serve the OpenAPI document at /api/docs-json and Swagger UI at /api/docs.
 * The document gets the error responses and the credentials of every route
 * from the route's own metadata (see addErrorResponses and listCredentials).
 */
export function setUpOpenApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Billing service')
      .setDescription('Tenant billing through each tenant\'s own Stripe account.')
      .setVersion('1')
      .addBearerAuth()
      .addCookieAuth('billing_session')
      .build(),
    {
      extraModels: [ProblemDetailsResponse],
      // Swagger's default for unversioned routes, spelled out because routeAccessByOperationId builds the same key.
      operationIdFactory: (controllerKey, methodKey) => `${controllerKey}_${methodKey}`,
    },
  );
  const routes = routeAccessByOperationId(app);
  addErrorResponses(document, routes);
  listCredentials(document, routes);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}

/** Reads each controller method's access metadata, keyed by the operationId its OpenAPI operation gets. */
function routeAccessByOperationId(app: INestApplication): Map<string, RouteAccess> {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  const routes = new Map<string, RouteAccess>();

  for (const wrapper of app.get(DiscoveryService).getControllers()) {
    const controller = wrapper.metatype as Type | null;
    if (!controller) {
      continue;
    }

    const prototype = controller.prototype as Record<string, unknown>;
    for (const methodName of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[methodName] as (...args: unknown[]) => unknown;
      if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) {
        continue;
      }

      const targets = [handler, controller];
      routes.set(`${controller.name}_${methodName}`, {
        isPublic: reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true,
        roles: reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets),
        takesBody: hasBodyParameter(controller, methodName),
      });
    }
  }

  return routes;
}

function hasBodyParameter(controller: Type, methodName: string): boolean {
  const parameters = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, methodName) ?? {}) as Record<string, unknown>;

  // Nest keys each parameter as `<RouteParamtypes>:<index>`.
  return Object.keys(parameters).some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY);
}
