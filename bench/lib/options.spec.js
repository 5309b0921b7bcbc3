'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { CHECK_ONLY_ENV, FlagError, NO_RECORD_FLAG, databaseFlag, formatUsage, parseFlags } = require('./options');

const SPEC = {
  script: 'bench/example.js',
  summary: 'Measures an example of something.',
  flags: {
    events: { type: 'integer', default: 200, description: 'events sent per round' },
    minutes: { type: 'number', default: 5, min: 2, description: 'minutes of load' },
    database: databaseFlag('billing_bench_suite_example', { ceiling: true }),
    'no-record': NO_RECORD_FLAG,
  },
};

/** Returns the problems parseFlags reports for `argv`, or fails the test when it reports none. */
function problemsOf(argv) {
  try {
    parseFlags(SPEC, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(FlagError);

    return error.problems;
  }
  throw new Error(`parseFlags accepted ${JSON.stringify(argv)}`);
}

/** Runs readFlags in a child process, as a script would, and returns its exit status and output. */
function runScript(argv, env = {}) {
  const options = path.join(__dirname, 'options.js');
  const code = `const values = require(${JSON.stringify(options)}).readFlags(${JSON.stringify(SPEC)}, ${JSON.stringify(argv)}); console.log(JSON.stringify(values));`;
  const childEnv = { ...process.env, ...env };
  if (!(CHECK_ONLY_ENV in env)) {
    delete childEnv[CHECK_ONLY_ENV];
  }
  const result = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: childEnv });

  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('benchmark flag help', () => {
  const usage = formatUsage(SPEC);

  it('names the command and summary', () => {
    expect(usage.startsWith('Usage: node bench/example.js [flags]\n\nMeasures an example of something.\n')).toBe(true);
  });

  it('lists each flag with its default', () => {
    expect(usage).toMatch(/^ {2}--events N {2,}events sent per round \(default 200\)$/m);
    expect(usage).toMatch(/^ {2}--minutes N {2,}minutes of load \(default 5\)$/m);
    expect(usage).toMatch(/^ {2}--database NAME {2,}the service's database/m);
    expect(usage).toContain('(default billing_bench_suite_example)');
    expect(usage).toMatch(/^ {2}--no-record {2,}print the results table/m);
    expect(usage).toMatch(/^ {2}-h, --help {2,}print this help and exit$/m);
  });

  it('keeps lines within 80 characters', () => {
    const longest = Math.max(...usage.split('\n').map((line) => line.length));

    expect(longest).toBeLessThanOrEqual(80);
  });

  it.each([[['--help']], [['-h']], [['--evnts', '10', '--help']]])('is requested by %j', (argv) => {
    expect(parseFlags(SPEC, argv)).toEqual({ help: true });
  });
});

describe('benchmark flag values', () => {
  it('takes the defaults without arguments', () => {
    expect(parseFlags(SPEC, []).values).toEqual({ events: 200, minutes: 5, database: 'billing_bench_suite_example', 'no-record': false });
  });

  it('converts given numbers and booleans', () => {
    const { values } = parseFlags(SPEC, ['--events', '50', '--minutes=2.5', '--no-record', '--database', 'billing_bench_b']);

    expect(values).toEqual({ events: 50, minutes: 2.5, database: 'billing_bench_b', 'no-record': true });
  });
});

describe('benchmark flag errors', () => {
  it('names an unknown flag and the likely one', () => {
    expect(problemsOf(['--evnts', '10'])).toEqual(['unknown flag --evnts; did you mean --events?']);
  });

  it('names an unknown flag with no close match', () => {
    expect(problemsOf(['--colour=red'])).toEqual(['unknown flag --colour; use one of the flags listed below']);
  });

  it('names a single-dash flag as typed', () => {
    expect(problemsOf(['-events', '10'])).toEqual(['unknown flag -events; did you mean --events?']);
  });

  it('rejects a missing value at the end', () => {
    expect(problemsOf(['--events'])).toEqual(['missing value for --events; give one, e.g. --events 200']);
  });

  it('rejects a missing value before another flag', () => {
    expect(problemsOf(['--database', '--no-record'])).toEqual(['missing value for --database; give one, e.g. --database billing_bench_suite_example']);
  });

  it('rejects a value for a boolean flag', () => {
    expect(problemsOf(['--no-record=yes'])).toEqual(['--no-record takes no value; give it without "=yes"']);
  });

  it('rejects a positional argument', () => {
    expect(problemsOf(['200'])).toEqual(['unexpected argument "200"; this script takes only the flags listed below, each value after its flag']);
  });

  it.each(['abc', '0', '-1', '2.5', '', ' ', ' 5', '0x10', '1e3'])('rejects the whole number "%s"', (text) => {
    expect(problemsOf(['--events', text])).toEqual([`--events must be a whole number of at least 1, got ${JSON.stringify(text)}`]);
  });

  it.each(['1.9', 'five', '-3', 'Infinity'])('rejects the number "%s" below its minimum', (text) => {
    expect(problemsOf([`--minutes=${text}`])).toEqual([`--minutes must be a number of at least 2, got ${JSON.stringify(text)}`]);
  });

  it.each(['99999999999999999999', '10000001'])('rejects the huge number "%s"', (text) => {
    expect(problemsOf(['--events', text])).toEqual([`--events must be at most 10000000, got ${JSON.stringify(text)}`]);
  });

  it('reports every bad number at once', () => {
    expect(problemsOf(['--events', '0', '--minutes', '1'])).toEqual([
      '--events must be a whole number of at least 1, got "0"',
      '--minutes must be a number of at least 2, got "1"',
    ]);
  });

  it.each(['bench"; DROP', 'a/b', 'with space', 'a'.repeat(56)])('rejects the database name "%s"', (name) => {
    expect(problemsOf(['--database', name])).toEqual([`--database must be 1 to 55 letters, digits, underscores or hyphens, got ${JSON.stringify(name)}`]);
  });

  it('accepts a database name that leaves room for the ceiling suffix', () => {
    const name = 'a'.repeat(55);

    expect(parseFlags(SPEC, ['--database', name]).values.database).toBe(name);
  });
});

describe('benchmark flags in a script', () => {
  it('prints the help and exits 0', () => {
    const result = runScript(['--help']);

    expect(result.status).toBe(0);
    expect(result.stdout).toBe(formatUsage(SPEC));
    expect(result.stderr).toBe('');
  });

  it('prints the problem and help to stderr and exits 2', () => {
    const result = runScript(['--evnts', '10']);

    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`bench/example.js: unknown flag --evnts; did you mean --events?\n\n${formatUsage(SPEC)}`);
  });

  it('exits 0 after the check when asked to only check', () => {
    const result = runScript(['--events', '5'], { [CHECK_ONLY_ENV]: '1' });

    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
  });

  it('returns the values and runs on', () => {
    const result = runScript(['--events', '5']);

    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ events: 5, minutes: 5, database: 'billing_bench_suite_example', 'no-record': false });
  });
});
