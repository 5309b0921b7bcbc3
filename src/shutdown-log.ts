import { BeforeApplicationShutdown, Global, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';

/** When the running graceful shutdown started, in milliseconds since the epoch; null before one. */
@Injectable()
export class ShutdownProgress {
  startedAt: number | null = null;
}

/**
 * Logs the start of a graceful shutdown. AppModule provides it, and Nest 11
 * runs the root module's shutdown hooks before those of the modules it
 * imports, so this line comes before the workers and the relay stop.
 */
@Injectable()
export class ShutdownStartLog implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(private readonly progress: ShutdownProgress) {}

  beforeApplicationShutdown(signal?: string): void {
    this.progress.startedAt = Date.now();
    this.logger.log({ signal }, 'Shutdown started');
  }
}

/**
 * Logs the end of a graceful shutdown. Nest 11 runs global modules' shutdown
 * hooks last, the first one registered last of all, so AppModule imports
 * ShutdownLogModule first. The line then follows the other modules' hooks,
 * which close the database and queue connections.
 */
@Injectable()
export class ShutdownFinishLog implements OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(private readonly progress: ShutdownProgress) {}

  onApplicationShutdown(signal?: string): void {
    const durationMs = this.progress.startedAt === null ? null : Date.now() - this.progress.startedAt;
    this.logger.log({ signal, durationMs }, 'Shutdown finished');
  }
}

@Global()
@Module({ providers: [ShutdownProgress, ShutdownFinishLog], exports: [ShutdownProgress] })
export class ShutdownLogModule {}
