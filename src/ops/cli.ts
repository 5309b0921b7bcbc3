import { INestApplicationContext } from '@nestjs/common';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { ConfigurationError, loadConfig } from '../config/app-config';
import { checkPostgres, describeStartupFailure } from '../startup-check';
import { CliModule, cliCommandNames } from './cli.module';
import { formatCliError } from './ops-command';

/**
 * Runs the operator CLI: `node dist/src/ops/cli.js <command> [options]`, or
 * `npm run ops -- <command>`. `--help` lists the commands, and
 * `<command> --help` its options. Results go to stdout, errors to stderr with
 * exit status 1.
 */
async function main(): Promise<void> {
  let config;
  try {
    // Commands that decrypt a stored secret check for APP_ENCRYPTION_KEY themselves; the rest run without it.
    config = loadConfig(process.env, { requireEncryptionKey: false });
  } catch (error) {
    if (error instanceof ConfigurationError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  // Help and an unknown command's error are printed without a database. Every command connects to
  // DATABASE_URL, checked first, because Nest would print the driver's error with a stack trace and no variable name.
  const args = process.argv.slice(2);
  const connect = !printsHelpOnly(args) && cliCommandNames().includes(args[0]);
  const failure = connect ? await checkPostgres('DATABASE_URL', config.databaseUrl) : null;
  if (failure) {
    console.error(`Error: ${describeStartupFailure(failure).message}`);
    process.exit(1);
  }

  const app = await CommandFactory.createWithoutRunning(CliModule.register(config, { connect }), {
    // Only errors, which Nest's console logger writes to stderr, so stdout contains the command's output alone.
    logger: ['error'],
    serviceErrorHandler: (error: Error) => {
      console.error(formatCliError(error));
      process.exitCode = 1;
    },
  });
  try {
    // Commander names the program after the script file, so its usage lines would start with `cli`.
    rootCommandOf(app).name(USAGE_NAME);
    await CommandFactory.runApplication(app);
  } finally {
    await app.close();
  }
}

/** The command operators type, as the usage lines show it. */
const USAGE_NAME = 'npm run ops --';

/** Returns the root Commander program, which nest-commander keeps as a protected member of its runner. */
function rootCommandOf(app: INestApplicationContext): { name(name: string): unknown } {
  return (app.get(CommandRunnerService) as unknown as { commander: { name(name: string): unknown } }).commander;
}

/** Tell whether the arguments only ask for help: none at all, `help`, or `--help`/`-h` anywhere. */
function printsHelpOnly(args: string[]): boolean {
  return args.length === 0 || args[0] === 'help' || args.includes('--help') || args.includes('-h');
}

main().catch((error: unknown) => {
  console.error(formatCliError(error));
  process.exit(1);
});
