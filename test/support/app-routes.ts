import { PUBLIC_KEY, ROLES_KEY, Role } from '@app/common/roles/roles';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';

/** One controller route as the running application registered it, with the metadata the guard reads. */
export interface AppRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The Express path, such as `/api/v1/payments/:id`. */
  path: string;
  /** `METHOD path`, the key of the per-route maps in the security suites. */
  key: string;
  params: string[];
  isPublic: boolean;
  /** The `@Roles` of the handler or else its controller, undefined when neither has one. */
  roles: Role[] | undefined;
  handler: string;
  /** The class of the handler's `@Body()` parameter, or undefined when it takes no body. */
  bodyType: (new () => object) | undefined;
}

/**
 * Express routes that no controller declares: the Swagger UI and documents
 * that SwaggerModule.setup adds, and the catch-all layers through which Nest
 * mounts middleware for every path.
 */
const NON_CONTROLLER_ROUTES = [/^\/api\/docs(\/|-json$|-yaml$|$)/, /^\/\{\*path\}$/];

const METHOD_NAMES: Partial<Record<RequestMethod, AppRoute['method']>> = {
  [RequestMethod.GET]: 'GET',
  [RequestMethod.POST]: 'POST',
  [RequestMethod.PUT]: 'PUT',
  [RequestMethod.PATCH]: 'PATCH',
  [RequestMethod.DELETE]: 'DELETE',
};

/**
 * Lists every controller route of the running application from Nest's
 * metadata, and checks it against the Express router stack so that a route
 * registered some other way cannot slip past the suites that iterate over it.
 */
export function listAppRoutes(app: NestExpressApplication): AppRoute[] {
  const routes = controllerRoutes(app);
  const known = new Set(routes.map((route) => route.key));

  const registered = expressRoutes(app);
  const unexplained = registered.filter(({ key, path }) => !known.has(key) && !NON_CONTROLLER_ROUTES.some((pattern) => pattern.test(path)));
  if (unexplained.length > 0) {
    throw new Error(`Express routes that no controller declares and no suite classifies: ${unexplained.map(({ key }) => key).join(', ')}`);
  }

  const registeredKeys = new Set(registered.map(({ key }) => key));
  const missing = routes.filter((route) => !registeredKeys.has(route.key));
  if (missing.length > 0) {
    throw new Error(`Controller routes missing from the Express router: ${missing.map(({ key }) => key).join(', ')}`);
  }

  return routes;
}

function controllerRoutes(app: NestExpressApplication): AppRoute[] {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const routes: AppRoute[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => unknown) | null;
      if (!controller) {
        continue;
      }

      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name] as () => unknown;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (requestMethod === undefined) {
          continue;
        }

        const method = METHOD_NAMES[requestMethod];
        if (!method) {
          throw new Error(`${controller.name}.${name} uses a request method the security suites do not handle: ${requestMethod}`);
        }

        for (const path of joinPaths(controller, handler)) {
          const targets = [handler, controller];
          routes.push({
            method,
            path,
            key: `${method} ${path}`,
            params: [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]),
            isPublic: reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true,
            roles: reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets),
            handler: `${controller.name}.${name}`,
            bodyType: bodyTypeOf(controller, name),
          });
        }
      }
    }
  }

  return routes;
}

function bodyTypeOf(controller: new (...args: unknown[]) => unknown, methodName: string): (new () => object) | undefined {
  const parameters = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, methodName) ?? {}) as Record<string, { index: number }>;
  const body = Object.entries(parameters).find(([key]) => key.split(':')[0] === String(RouteParamtypes.BODY));
  if (!body) {
    return undefined;
  }

  const types = Reflect.getMetadata('design:paramtypes', controller.prototype as object, methodName) as (new () => object)[] | undefined;

  return types?.[body[1].index];
}

function joinPaths(controller: object, handler: object): string[] {
  const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined);
  const suffixes = asArray(Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined);
  const paths: string[] = [];
  for (const prefix of prefixes) {
    for (const suffix of suffixes) {
      const joined = `/${[prefix, suffix].map((part) => part.replace(/^\/+|\/+$/g, '')).filter((part) => part.length > 0).join('/')}`;
      paths.push(joined);
    }
  }

  return paths;
}

function asArray(value: string | string[] | undefined): string[] {
  if (value === undefined) {
    return [''];
  }

  return Array.isArray(value) ? value : [value];
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

function expressRoutes(app: NestExpressApplication): { key: string; path: string }[] {
  const express = app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  const found: { key: string; path: string }[] = [];
  for (const layer of express.router.stack) {
    if (!layer.route) {
      continue;
    }

    for (const method of Object.keys(layer.route.methods)) {
      found.push({ key: `${method.toUpperCase()} ${layer.route.path}`, path: layer.route.path });
    }
  }

  return found;
}
