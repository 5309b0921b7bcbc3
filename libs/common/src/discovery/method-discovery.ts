import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

export interface DiscoveredMethod<TMeta> {
  metadata: TMeta;
  /** `ClassName.method`, for logs. */
  name: string;
  invoke: (...args: unknown[]) => Promise<unknown>;
}

/**
 * Finds provider methods marked with a metadata key, so a context can offer a
 * handler without the dispatching module importing it.
 */
@Injectable()
export class MethodDiscovery {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  findMethods<TMeta>(metadataKey: string): DiscoveredMethod<TMeta>[] {
    const found: DiscoveredMethod<TMeta>[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) {
        continue;
      }

      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = prototype[methodName] as (...args: unknown[]) => Promise<unknown>;
        const metadata = this.reflector.get<TMeta | undefined>(metadataKey, method);
        if (metadata === undefined) {
          continue;
        }

        found.push({
          metadata,
          name: `${instance.constructor.name}.${methodName}`,
          invoke: (...args: unknown[]) => method.apply(instance, args),
        });
      }
    }

    return found;
  }
}
