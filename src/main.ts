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
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    const failure = listenFailure((error as NodeJS.ErrnoException).code, config.host, config.port);
    if (failure === null) {
      throw error;
    }
    // A second process on the same PORT is a common slip (the api and worker roles need one each),
    // and Node's own report of it is a stack trace on standard error instead of a log line.
    startupLogger(config.logLevel).fatal({ context: 'Bootstrap', variable: failure.variable, port: config.port, host: config.host, code: failure.code }, failure.message);
    await app.close();
    process.exit(1);
  }
  new Logger('Bootstrap').log({ role: config.role, port: config.port }, `Billing service listening on ${config.host}:${config.port} (role ${config.role})`);
}

void bootstrap();

/** Describes a listen error that the HOST or PORT setting causes, or returns null for any other error. */
function listenFailure(code: string | undefined, host: string, port: number): { variable: string; code: string; message: string } | null {
  switch (code) {
    case 'EADDRINUSE':
      return { variable: 'PORT', code, message: `Port ${port} on ${host} is already in use (PORT): stop the process listening there or set PORT to a free port` };
    case 'EACCES':
      return { variable: 'PORT', code, message: `Port ${port} on ${host} needs privileges this process lacks (PORT): set PORT to 1024 or above` };
    case 'EADDRNOTAVAIL':
      return { variable: 'HOST', code, message: `Address ${host} is not an address of this machine (HOST): set HOST to one of its addresses, 0.0.0.0 or 127.0.0.1` };
    default:
      return null;
  }
}
