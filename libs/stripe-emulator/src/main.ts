import { StripeEmulator } from './emulator';
import type { EmulatorLogger } from './logger';

/*
 * Runs the Stripe emulator alone: `node dist/libs/stripe-emulator/src/main.js`, on
 * STRIPE_EMULATOR_PORT (default 12111) at STRIPE_EMULATOR_HOST (default 127.0.0.1; a
 * container sets 0.0.0.0), until SIGTERM or SIGINT.
 */

const DEFAULT_PORT = 12111;

const logger: EmulatorLogger = {
  info: (message) => console.log(`[stripe-emulator] ${message}`),
  warn: (message) => console.warn(`[stripe-emulator] ${message}`),
  error: (message) => console.error(`[stripe-emulator] ${message}`),
};

function readPort(): number {
  const value = process.env.STRIPE_EMULATOR_PORT;
  if (value === undefined || value === '') {
    return DEFAULT_PORT;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid STRIPE_EMULATOR_PORT: ${value}; expected an integer from 0 to 65535.`);
  }
  return port;
}

async function main(): Promise<void> {
  const emulator = new StripeEmulator({ port: readPort(), host: process.env.STRIPE_EMULATOR_HOST || '127.0.0.1', logger });
  await emulator.start();

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    logger.info(`Received ${signal}; stopping`);
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Failed to stop cleanly: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  logger.error(`Failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
