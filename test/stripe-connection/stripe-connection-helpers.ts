import { containsSecret } from '@app/common/keys/stripe-keys';
import Stripe from 'stripe';
import request, { Response } from 'supertest';
import { STRIPE_MAX_NETWORK_RETRIES } from '../../src/modules/stripe-connection/stripe-client.factory';
import { TestApp } from '../support/test-app';

export const SETTINGS_PATH = '/api/v1/settings/billing';
export const CONNECT_PATH = '/api/v1/settings/billing/stripe';
export const KEYS_PATH = '/api/v1/settings/billing/stripe/keys';
export const VERIFY_PATH = '/api/v1/settings/billing/stripe/verify';

export interface KeyPair {
  publishableKey: string;
  secretKey: string;
}

export interface EmulatorAccount {
  id: string;
  test: KeyPair;
  live: KeyPair;
}

type Auth = Record<string, string>;

/**
 * Calls the service and keeps every response, so a suite can check at the end
 * that no response (status line, headers or body) carried a full secret.
 */
export class RecordingClient {
  readonly responses: { label: string; text: string }[] = [];
  /** The body (after the prefix) of every secret key the emulator gave out. */
  readonly knownSecrets = new Set<string>();

  constructor(private readonly t: TestApp) {}

  async get(path: string, auth: Auth): Promise<Response> {
    return this.record(`GET ${path}`, await this.t.http().get(path).set(auth));
  }

  async post(path: string, auth: Auth, body?: object): Promise<Response> {
    return this.record(`POST ${path}`, await this.t.http().post(path).set(auth).send(body ?? {}));
  }

  async put(path: string, auth: Auth, body?: object): Promise<Response> {
    return this.record(`PUT ${path}`, await this.t.http().put(path).set(auth).send(body ?? {}));
  }

  async delete(path: string, auth: Auth): Promise<Response> {
    return this.record(`DELETE ${path}`, await this.t.http().delete(path).set(auth));
  }

  /** Responses that contain something shaped like a full secret or one of the known secrets. */
  leakingResponses(): string[] {
    return this.responses
      .filter((response) => containsSecret(response.text) || [...this.knownSecrets].some((secret) => response.text.includes(secret)))
      .map((response) => response.label);
  }

  private record(label: string, response: Response): Response {
    const headers = JSON.stringify(response.headers);
    this.responses.push({ label: `${label} → ${response.status}`, text: `${headers}\n${response.text ?? ''}` });

    return response;
  }
}

/** The emulator's control API. */
export class EmulatorControl {
  constructor(
    private readonly t: TestApp,
    private readonly client: RecordingClient,
  ) {}

  async createAccount(): Promise<EmulatorAccount> {
    const response = await request(this.t.emulator.url).post('/_emulator/accounts').send({}).expect(201);
    const account = response.body as EmulatorAccount;
    this.remember(account.test, account.live);

    return account;
  }

  async createKeys(accountId: string, body: { mode: 'test' | 'live'; restricted?: boolean; permissions?: string[] }): Promise<KeyPair> {
    const response = await request(this.t.emulator.url).post(`/_emulator/accounts/${accountId}/keys`).send(body).expect(201);
    const pair = response.body as KeyPair;
    this.remember(pair);

    return pair;
  }

  async revoke(key: string): Promise<void> {
    await request(this.t.emulator.url).post('/_emulator/keys/revoke').send({ key }).expect(201);
  }

  /** Make the next Stripe call of the service fail with a 500, its automatic retries included. */
  async failNextCall(): Promise<void> {
    await request(this.t.emulator.url)
      .post('/_emulator/faults')
      .send({ kind: '500', count: STRIPE_MAX_NETWORK_RETRIES + 1 })
      .expect(201);
  }

  /** Build a Stripe SDK client on the emulator, to inspect what the service did in the account. */
  stripe(secretKey: string): Stripe {
    const url = new URL(this.t.emulator.url);

    return new Stripe(secretKey, { host: url.hostname, port: url.port, protocol: 'http', maxNetworkRetries: 0 });
  }

  private remember(...pairs: KeyPair[]): void {
    for (const pair of pairs) {
      // The emulator's publishable and secret keys of a pair share their body, so
      // the body alone must never appear either.
      this.client.knownSecrets.add(pair.secretKey.slice('sk_test_'.length));
    }
  }
}

export function keysOf(pair: KeyPair): KeyPair {
  return { publishableKey: pair.publishableKey, secretKey: pair.secretKey };
}

/** Mask a key the way the contract shows it: prefix, U+2026, last four characters. */
export function masked(key: string): string {
  const prefix = /^(pk|sk|rk)_(test|live)_/.exec(key)?.[0] ?? '';

  return `${prefix}…${key.slice(-4)}`;
}
