import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The dependency rule of the modular monolith: a context reaches another only
 * through libs/contracts (events and facade interfaces) and Nest's dependency
 * injection, never by importing the other context's files.
 */
const MODULES_DIR = __dirname;
const ROOT = resolve(MODULES_DIR, '..', '..');
const IMPORT_PATTERN = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function contexts(): string[] {
  return readdirSync(MODULES_DIR).filter((name) => statSync(join(MODULES_DIR, name)).isDirectory());
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return sourceFiles(path);
    }

    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');

  return [...text.matchAll(IMPORT_PATTERN)].map((match) => match[1] ?? match[2] ?? match[3]);
}

/** The context a resolved import lands in, or null when it lands outside src/modules. */
function contextOf(specifier: string, fromFile: string): string | null {
  let target: string;
  if (specifier.startsWith('.')) {
    target = resolve(dirname(fromFile), specifier);
  } else if (specifier.startsWith('src/')) {
    target = resolve(ROOT, specifier);
  } else {
    return null;
  }

  const inModules = relative(MODULES_DIR, target);
  if (inModules.startsWith('..')) {
    return null;
  }

  return inModules.split(sep)[0];
}

describe('module boundaries', () => {
  const names = contexts();

  it('finds the five contexts', () => {
    expect(names.sort()).toEqual(['invoicing', 'payments', 'stripe-connection', 'tenancy', 'webhooks']);
  });

  it.each(names)('%s imports no other context', (context) => {
    const violations: string[] = [];
    for (const file of sourceFiles(join(MODULES_DIR, context))) {
      for (const specifier of importsOf(file)) {
        const target = contextOf(specifier, file);
        if (target !== null && target !== context) {
          violations.push(`${relative(ROOT, file)} imports ${specifier}`);
        }
      }
    }

    expect(violations).toEqual([]);
  });

  it('keeps libs free of application imports', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'libs'))) {
      for (const specifier of importsOf(file)) {
        const target = specifier.startsWith('.') ? resolve(dirname(file), specifier) : '';
        if (target.startsWith(join(ROOT, 'src') + sep)) {
          violations.push(`${relative(ROOT, file)} imports ${specifier}`);
        }
      }
    }

    expect(violations).toEqual([]);
  });
});
