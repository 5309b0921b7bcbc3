// Command-line flags of the benchmark scripts: --help, and one clear message
// with exit status 2 for an unknown flag, a missing value or a value the run
// cannot use, all before a script resets a database or starts a process.
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');

/** Environment variable that makes a script check its flags and exit 0 without running. all.js sets it to check the flags it passes on. */
const CHECK_ONLY_ENV = 'BENCH_CHECK_FLAGS';
const FLAG_TYPES = ['integer', 'number', 'string', 'boolean'];
const HELP_WIDTH = 80;
/** Upper bound of a numeric flag without its own `max`, far above any run this machine can finish. */
const MAX_NUMBER = 10_000_000;
const DECIMAL = /^\d+(\.\d+)?$/;
// PostgreSQL uses at most NAMEDATALEN - 1 = 63 bytes of a name and truncates the rest ("Identifiers and Key Words" in its manual).
const MAX_DATABASE_NAME_BYTES = 63;
const CEILING_SUFFIX = '_ceiling';

/** Error for a command line the script cannot run with. `problems` contains one message per bad argument. */
class FlagError extends Error {
  constructor(problems) {
    super(problems.join('\n'));
    this.name = 'FlagError';
    this.problems = problems;
  }
}

function checkSpec(spec) {
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (!FLAG_TYPES.includes(flag.type)) {
      throw new Error(`flag --${name} of ${spec.script} has type ${JSON.stringify(flag.type)}; use one of ${FLAG_TYPES.join(', ')}`);
    }
  }
}

function valueName(flag) {
  if (flag.type === 'integer' || flag.type === 'number') {
    return 'N';
  }

  return flag.valueName ?? 'VALUE';
}

/** Number of single-character edits that turn `a` into `b` (Levenshtein distance). */
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }

  return previous[b.length];
}

/** Returns the known flag a mistyped name most likely meant, or null when none is close. */
function closestFlag(spec, typed) {
  let best = null;
  for (const name of [...Object.keys(spec.flags), 'help']) {
    const distance = editDistance(typed, name);
    const allowed = Math.max(1, Math.floor(name.length / 3));
    if (distance <= allowed && (best === null || distance < best.distance)) {
      best = { name, distance };
    }
  }

  return best?.name ?? null;
}

function unknownFlagMessage(spec, argument) {
  const typed = argument.split('=')[0];
  const suggestion = closestFlag(spec, typed.replace(/^-+/, ''));
  if (suggestion) {
    return `unknown flag ${typed}; did you mean --${suggestion}?`;
  }

  return `unknown flag ${typed}; use one of the flags listed below`;
}

/**
 * Returns the text of one command-line argument for a flag, or throws a
 * FlagError for a positional argument, an unknown flag, a missing value or a
 * value given to a flag that takes none.
 */
function tokenText(spec, token, argv) {
  if (token.kind === 'positional') {
    throw new FlagError([`unexpected argument ${JSON.stringify(token.value)}; this script takes only the flags listed below, each value after its flag`]);
  }
  const flag = Object.hasOwn(spec.flags, token.name) ? spec.flags[token.name] : null;
  if (flag === null) {
    throw new FlagError([unknownFlagMessage(spec, argv[token.index])]);
  }
  if (flag.type === 'boolean') {
    if (token.value !== undefined) {
      throw new FlagError([`${token.rawName} takes no value; give it without "=${token.value}"`]);
    }

    return true;
  }
  // parseArgs (Node.js 20, not strict) takes the next argument as the value even when it is another flag,
  // as in `--payments --no-record`. A negative number is still a value, and its check rejects it.
  const tookNextFlag = token.inlineValue === false && token.value.startsWith('-') && !Number.isFinite(Number(token.value));
  if (token.value === undefined || tookNextFlag) {
    const example = flag.example ?? flag.default ?? valueName(flag);
    throw new FlagError([`missing value for ${token.rawName}; give one, e.g. ${token.rawName} ${example}`]);
  }

  return token.value;
}

/** Returns `{ value }` for a usable flag value, or `{ problem }` naming the flag and what it must be. */
function checkValue(name, flag, text) {
  const min = flag.min ?? 1;
  const max = flag.max ?? MAX_NUMBER;
  // Number() alone also reads ' 5', 0x10, 1e3 and 1e20 (a whole number to JavaScript), so only decimal digits pass.
  const number = DECIMAL.test(text) ? Number(text) : NaN;
  if (flag.type === 'integer' && (!Number.isInteger(number) || number < min)) {
    return { problem: `--${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}` };
  }
  if (flag.type === 'number' && (!Number.isFinite(number) || number < min)) {
    return { problem: `--${name} must be a number of at least ${min}, got ${JSON.stringify(text)}` };
  }
  if ((flag.type === 'integer' || flag.type === 'number') && number > max) {
    return { problem: `--${name} must be at most ${max}, got ${JSON.stringify(text)}` };
  }
  if (flag.type === 'integer' || flag.type === 'number') {
    return { value: number };
  }
  const requirement = flag.check?.(text);
  if (requirement) {
    return { problem: `--${name} ${requirement}, got ${JSON.stringify(text)}` };
  }

  return { value: text };
}

/**
 * Parses `argv` against `spec.flags`. Returns `{ help: true }` when -h or --help
 * is among the arguments, and otherwise `{ values }` with each flag's value or
 * default: numbers for integer and number flags, booleans default to false.
 * Throws a FlagError for the first syntax problem, or for every unusable value.
 */
function parseFlags(spec, argv) {
  checkSpec(spec);
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type === 'boolean' ? 'boolean' : 'string' };
  }
  // Parsed loosely into tokens, so that each problem gets a message naming its flag instead of parseArgs' exception.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) {
    return { help: true };
  }

  const texts = new Map();
  for (const token of tokens) {
    if (token.kind !== 'option-terminator') {
      texts.set(token.name, tokenText(spec, token, argv));
    }
  }

  const values = {};
  const problems = [];
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.type === 'boolean') {
      values[name] = texts.get(name) ?? false;
      continue;
    }
    if (!texts.has(name)) {
      values[name] = flag.default;
      continue;
    }
    const checked = checkValue(name, flag, texts.get(name));
    if (checked.problem) {
      problems.push(checked.problem);
    }
    values[name] = checked.value;
  }
  if (problems.length > 0) {
    throw new FlagError(problems);
  }

  return { values };
}

/** Splits `text` into lines of at most `width` characters at spaces, never inside one of the `units`. */
function wrap(text, width, units = []) {
  const lines = [];
  let line = '';
  for (const word of [...text.split(/\s+/).filter(Boolean), ...units]) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);

  return lines;
}

/** Formats the help text: the command, what the script measures, each flag with its default, and any notes. */
function formatUsage(spec) {
  const rows = Object.entries(spec.flags).map(([name, flag]) => {
    const left = flag.type === 'boolean' ? `--${name}` : `--${name} ${valueName(flag)}`;
    const units = flag.default === undefined ? [] : [`(default ${flag.default})`];

    return [left, flag.description, units];
  });
  rows.push(['-h, --help', 'print this help and exit', []]);
  const indent = Math.max(...rows.map(([left]) => left.length)) + 4;

  const lines = [`Usage: node ${spec.script} [flags]`, '', ...wrap(spec.summary, HELP_WIDTH), '', 'Flags:'];
  for (const [left, description, units] of rows) {
    const [first, ...rest] = wrap(description, HELP_WIDTH - indent, units);
    lines.push(`  ${left.padEnd(indent - 2)}${first}`);
    lines.push(...rest.map((line) => `${' '.repeat(indent)}${line}`));
  }
  if (spec.notes) {
    lines.push('', ...spec.notes);
  }

  return `${lines.join('\n')}\n`;
}

/**
 * Writes `text` to file descriptor `fd` synchronously, because process.exit()
 * can drop a write still queued for a pipe. A reader that has already closed
 * the pipe (EPIPE, as `| head -3` does) is not an error of the script.
 */
function writeBeforeExit(fd, text) {
  try {
    fs.writeSync(fd, text);
  } catch (error) {
    if (error.code !== 'EPIPE') {
      throw error;
    }
  }
}

/**
 * Reads the script's flags from the command line and returns their values as
 * parseFlags does. With -h or --help it prints the help and exits 0. With a bad
 * argument it prints each problem and the help to stderr and exits 2. With
 * BENCH_CHECK_FLAGS=1 it exits 0 once the flags pass the check.
 */
function readFlags(spec, argv = process.argv.slice(2)) {
  let parsed;
  try {
    parsed = parseFlags(spec, argv);
  } catch (error) {
    if (!(error instanceof FlagError)) {
      throw error;
    }
    const problems = error.problems.map((problem) => `${spec.script}: ${problem}\n`).join('');
    writeBeforeExit(2, `${problems}\n${formatUsage(spec)}`);
    process.exit(2);
  }
  if (parsed.help) {
    writeBeforeExit(1, formatUsage(spec));
    process.exit(0);
  }
  if (process.env[CHECK_ONLY_ENV] === '1') {
    process.exit(0);
  }

  return parsed.values;
}

function checkDatabaseName(name, longestSuffix) {
  const limit = MAX_DATABASE_NAME_BYTES - longestSuffix.length;
  if (!/^[A-Za-z0-9_-]+$/.test(name) || name.length > limit) {
    // The name goes into a quoted SQL identifier and a connection URL, where quotes, slashes or spaces would break them.
    return `must be 1 to ${limit} letters, digits, underscores or hyphens`;
  }

  return null;
}

/**
 * Builds the --database flag: the name of the service's database, which the
 * script drops and creates again. With `ceiling`, the ceiling server's database
 * is that name plus `_ceiling`.
 */
function databaseFlag(defaultName, { ceiling = false } = {}) {
  const suffix = ceiling ? CEILING_SUFFIX : '';
  const dropped = ceiling ? `the service's database, and NAME${CEILING_SUFFIX} the ceiling server's; both are` : "the service's database; it is";
  const description = `${dropped} dropped and created again, so give concurrent runs on one PostgreSQL server different names`;

  return { type: 'string', default: defaultName, valueName: 'NAME', description, check: (name) => checkDatabaseName(name, suffix) };
}

/** The --no-record flag every benchmark takes. */
const NO_RECORD_FLAG = { type: 'boolean', description: 'print the results table without appending it to docs/benchmarks.md' };

module.exports = { CHECK_ONLY_ENV, FlagError, NO_RECORD_FLAG, databaseFlag, formatUsage, parseFlags, readFlags };
