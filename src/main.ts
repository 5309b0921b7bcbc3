import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { ConfigurationError, loadConfig } from './config/app-config';
import { startupLogger } from './logging';
import { checkDependencies, describeStartupFailure } from './startup-check';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigurationError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const failure = await checkDependencies(config);
  if (failure) {
    const { fields, message } = describeStartupFailure(failure);
    // The api role takes webhooks without Redis (the sweeper enqueues them later), and workers
    // reconnect by themselves, so only an unreachable PostgreSQL stops the start.
    if (failure.service === 'Redis') {
      startupLogger(config.logLevel).warn({ context: 'Bootstrap', ...fields }, message);
    } else {
      startupLogger(config.logLevel).fatal({ context: 'Bootstrap', ...fields }, message);
      process.exit(1);
    }
  }

  const app = await createApp(config);
  await app.listen(config.port, config.host);
  new Logger('Bootstrap').log({ role: config.role, port: config.port }, `Billing service listening on ${config.host}:${config.port} (role ${config.role})`);
}

void bootstrap();
