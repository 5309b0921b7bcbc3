import { randomBytes } from 'node:crypto';
import { ConfigurationError, loadConfig } from './app-config';

const KEY = randomBytes(32).toString('base64');

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ APP_ENCRYPTION_KEY: KEY });

    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/billing');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.role).toBe('all');
    expect(config.stripeApiBase).toBeNull();
    expect(config.rateLimitLogin).toEqual({ limit: 10, windowSeconds: 900 });
    expect(config.rateLimitLoginIp).toEqual({ limit: 100, windowSeconds: 900 });
    expect(config.rateLimitApi).toEqual({ limit: 600, windowSeconds: 60 });
    expect(config.rateLimitWebhookFailures).toEqual({ limit: 60, windowSeconds: 60 });
    expect(config.partitionRetentionDays).toBe(90);
  });

  it('uses DATABASE_URL for the service by default', () => {
    const config = loadConfig({ APP_ENCRYPTION_KEY: KEY, DATABASE_URL: 'postgres://owner@db:5432/billing' });

    expect(config.serviceDatabaseUrl).toBe('postgres://owner@db:5432/billing');
  });

  it('reads SERVICE_DATABASE_URL', () => {
    const config = loadConfig({ APP_ENCRYPTION_KEY: KEY, DATABASE_URL: 'postgres://owner@db:5432/billing', SERVICE_DATABASE_URL: 'postgres://service@db:5432/billing' });

    expect(config.serviceDatabaseUrl).toBe('postgres://service@db:5432/billing');
    expect(config.databaseUrl).toBe('postgres://owner@db:5432/billing');
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, SERVICE_DATABASE_URL: 'redis://db:6379' })).toThrow(/SERVICE_DATABASE_URL/);
  });

  it('reads RATE_LIMIT_LOGIN_IP', () => {
    expect(loadConfig({ APP_ENCRYPTION_KEY: KEY, RATE_LIMIT_LOGIN_IP: '20/5m' }).rateLimitLoginIp).toEqual({ limit: 20, windowSeconds: 300 });
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, RATE_LIMIT_LOGIN_IP: 'many' })).toThrow(/RATE_LIMIT_LOGIN_IP/);
  });

  it('accepts a partition retention of 14 days or more', () => {
    expect(loadConfig({ APP_ENCRYPTION_KEY: KEY, PARTITION_RETENTION_DAYS: '14' }).partitionRetentionDays).toBe(14);
    expect(loadConfig({ APP_ENCRYPTION_KEY: KEY, PARTITION_RETENTION_DAYS: '400' }).partitionRetentionDays).toBe(400);
  });

  it('rejects a partition retention below the replay window', () => {
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, PARTITION_RETENTION_DAYS: '13' })).toThrow(/PARTITION_RETENTION_DAYS is 13, below the 14-day replay window/);
  });

  it.each(['7.5', '-30', 'ninety', '99999'])('rejects partition retention %s', (raw) => {
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, PARTITION_RETENTION_DAYS: raw })).toThrow(/PARTITION_RETENTION_DAYS must be a whole number of days from 14 to 3650/);
  });

  it.each([
    ['STRIPE_API_BASE', 'notaurl'],
    ['STRIPE_API_BASE', 'ftp://emulator.example'],
    ['LOG_LEVEL', 'bogus'],
  ])('rejects %s=%s with a configuration error', (name, raw) => {
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, [name]: raw })).toThrow(ConfigurationError);
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: KEY, [name]: raw })).toThrow(new RegExp(name));
  });

  it('accepts an http STRIPE_API_BASE and a pino LOG_LEVEL', () => {
    const config = loadConfig({ APP_ENCRYPTION_KEY: KEY, STRIPE_API_BASE: 'http://127.0.0.1:12111', LOG_LEVEL: 'debug' });

    expect(config.stripeApiBase?.href).toBe('http://127.0.0.1:12111/');
    expect(config.logLevel).toBe('debug');
  });

  it('names every invalid variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'abc', APP_ROLE: 'both', STRIPE_WEBHOOK_SECRET: 'nope', REDIS_URL: 'http://x' });
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'APP_ROLE', 'STRIPE_WEBHOOK_SECRET', 'REDIS_URL', 'APP_ENCRYPTION_KEY']) {
      expect(message).toContain(name);
    }
  });

  it('names the expected schemes of a URL', () => {
    const messageFor = (env: Record<string, string>): string => {
      try {
        loadConfig({ NODE_ENV: 'test', ...env });
      } catch (error) {
        return (error as Error).message;
      }

      return '';
    };

    expect(messageFor({ STRIPE_API_BASE: 'javascript:alert(1)' })).toContain('STRIPE_API_BASE must be a URL starting with http:// or https:// (got a javascript: URL)');
    expect(messageFor({ STRIPE_API_BASE: 'not a url' })).toContain('STRIPE_API_BASE must be a URL starting with http:// or https://');
    expect(messageFor({ DATABASE_URL: 'mysql://user:hunter2@db/billing' })).toContain('DATABASE_URL must be a URL starting with postgres:// or postgresql:// (got a mysql: URL)');
    expect(messageFor({ DATABASE_URL: 'mysql://user:hunter2@db/billing' })).not.toContain('hunter2');
  });

  it('names only DATABASE_URL when it is invalid and SERVICE_DATABASE_URL is unset', () => {
    let message = '';
    try {
      loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'notaurl' });
    } catch (error) {
      message = (error as Error).message;
    }

    expect(message).toContain('DATABASE_URL must be a URL');
    expect(message).not.toContain('SERVICE_DATABASE_URL');
  });

  it('does not need an encryption key under NODE_ENV=test', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).encryptionKeys).toMatch(/^test:/);
  });

  it('lets migrations run without an encryption key', () => {
    expect(loadConfig({}, { requireEncryptionKey: false }).encryptionKeys).toBe('');
  });

  it('still checks a given encryption key when it is optional', () => {
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: 'c2hvcnQ=' }, { requireEncryptionKey: false })).toThrow(/APP_ENCRYPTION_KEY/);
  });

  it('binds to every interface unless HOST says otherwise', () => {
    expect(loadConfig({ APP_ENCRYPTION_KEY: KEY }).host).toBe('0.0.0.0');
    expect(loadConfig({ APP_ENCRYPTION_KEY: KEY, HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
  });

  it('splits several platform webhook secrets', () => {
    const config = loadConfig({ APP_ENCRYPTION_KEY: KEY, STRIPE_WEBHOOK_SECRET: 'whsec_aaaaaaaaaa, whsec_bbbbbbbbbb' });

    expect(config.platformWebhookSecrets).toEqual(['whsec_aaaaaaaaaa', 'whsec_bbbbbbbbbb']);
  });

  it('never echoes an invalid encryption key', () => {
    expect(() => loadConfig({ APP_ENCRYPTION_KEY: 'c2hvcnQ=' })).toThrow(/APP_ENCRYPTION_KEY is invalid/);
    try {
      loadConfig({ APP_ENCRYPTION_KEY: 'c2hvcnQ=' });
    } catch (error) {
      expect((error as Error).message).not.toContain('c2hvcnQ');
    }
  });
});
