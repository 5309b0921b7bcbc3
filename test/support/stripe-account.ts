import request from 'supertest';
import { TestApp } from './test-app';

export interface EmulatorAccount {
  id: string;
  test: { publishableKey: string; secretKey: string };
  live: { publishableKey: string; secretKey: string };
}

/** Creates a Stripe account in the emulator, with its test and live key pairs. */
export async function createEmulatorAccount(t: TestApp): Promise<EmulatorAccount> {
  const response = await request(t.emulator.url).post('/_emulator/accounts').send({}).expect(201);

  return response.body as EmulatorAccount;
}

/** Connects a new emulator account's test keys through the HTTP API, as a tenant owner does. */
export async function connectStripe(t: TestApp, ownerAuth: { Authorization: string }): Promise<EmulatorAccount> {
  const account = await createEmulatorAccount(t);
  const response = await t.http().post('/api/v1/settings/billing/stripe').set(ownerAuth).send({
    publishableKey: account.test.publishableKey,
    secretKey: account.test.secretKey,
  });
  if (response.status !== 201) {
    throw new Error(`Connecting Stripe failed with ${response.status}: ${response.text}`);
  }

  return account;
}
