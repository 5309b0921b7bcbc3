import type Stripe from 'stripe';
import { expiredApiKey, invalidApiKey, maskKey, missingApiKey, permissionDenied, publishableKeyUsed } from './errors';
import { newId, nowSeconds, randomAlphanumeric } from './ids';
import type { EmulatorLogger } from './logger';

export type Mode = 'test' | 'live';
export type Access = 'read' | 'write';

/** Resource names a restricted key's `permissions` may list. */
export const PERMISSION_RESOURCES = [
  'account',
  'charges',
  'customers',
  'events',
  'invoiceitems',
  'invoices',
  'payment_intents',
  'payment_methods',
  'prices',
  'products',
  'refunds',
  'webhook_endpoints',
] as const;
export type PermissionResource = (typeof PERMISSION_RESOURCES)[number];

// Stripe names restricted-key permissions `rak_<name>_<read|write>` with these names.
const PERMISSION_NAMES: Record<PermissionResource, string> = {
  account: 'account',
  charges: 'charge',
  customers: 'customer',
  events: 'event',
  invoiceitems: 'invoice_item',
  invoices: 'invoice',
  payment_intents: 'payment_intent',
  payment_methods: 'payment_method',
  prices: 'price',
  products: 'product',
  refunds: 'refund',
  webhook_endpoints: 'webhook',
};

export interface AccountProfile {
  email?: string | null;
  displayName?: string | null;
  country?: string;
  defaultCurrency?: string;
}

export interface AccountRecord {
  id: string;
  created: number;
  email: string | null;
  displayName: string | null;
  country: string;
  defaultCurrency: string;
}

export interface ApiKeyRecord {
  secret: string;
  accountId: string;
  mode: Mode;
  restricted: boolean;
  /** The widest access a restricted key has, per resource. Empty for `sk_` keys. */
  permissions: Map<PermissionResource, Access>;
  revoked: boolean;
}

export interface KeyPair {
  publishableKey: string;
  secretKey: string;
}

// Stripe's secret keys: `sk_` or `rk_`, the mode, then alphanumerics.
const SECRET_KEY_FORMAT = /^(sk|rk)_(test|live)_[A-Za-z0-9]{10,247}$/;
const PUBLISHABLE_KEY_FORMAT = /^pk_(test|live)_[A-Za-z0-9]+$/;

/** Accounts and their API keys: registration, authentication and restricted-key checks. */
export class AccountRegistry {
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly keys = new Map<string, ApiKeyRecord>();

  constructor(private readonly logger: EmulatorLogger) {}

  createAccount(profile: AccountProfile = {}): AccountRecord {
    const account: AccountRecord = {
      id: `acct_1${randomAlphanumeric(15)}`,
      created: nowSeconds(),
      email: profile.email ?? null,
      displayName: profile.displayName ?? null,
      country: profile.country ?? 'US',
      defaultCurrency: profile.defaultCurrency ?? 'usd',
    };
    this.accounts.set(account.id, account);
    return account;
  }

  getAccount(id: string): AccountRecord | undefined {
    return this.accounts.get(id);
  }

  /** Issues a new key pair for the account, like rolling a key in the Dashboard. */
  createKeyPair(
    accountId: string,
    mode: Mode,
    restriction?: { permissions: Map<PermissionResource, Access> },
  ): KeyPair {
    const suffix = `51${accountId.slice('acct_'.length)}${randomAlphanumeric(80)}`;
    const secretKey = `${restriction ? 'rk' : 'sk'}_${mode}_${suffix}`;
    this.keys.set(secretKey, {
      secret: secretKey,
      accountId,
      mode,
      restricted: restriction !== undefined,
      permissions: restriction?.permissions ?? new Map(),
      revoked: false,
    });
    return { publishableKey: `pk_${mode}_${suffix}`, secretKey };
  }

  /**
   * Revokes a secret key. A well-formed `sk_` key the emulator has not seen yet is first
   * registered (with a new account), so that revoking it before its first use still works.
   * Returns false for an unknown `rk_` key or a malformed one.
   */
  revoke(secret: string): boolean {
    const record = this.keys.get(secret) ?? this.registerUnknownSecretKey(secret);
    if (!record) {
      return false;
    }
    record.revoked = true;
    this.logger.info(`Revoked key ${maskKey(secret)} of account ${record.accountId}`);
    return true;
  }

  /** Returns the account of a known secret or restricted key in the `Authorization` header, or null, without raising. */
  accountIdOf(authorization: string | undefined): string | null {
    const secret = parseAuthorization(authorization);

    return secret === null ? null : (this.keys.get(secret)?.accountId ?? null);
  }

  /**
   * Resolves the `Authorization` header (Bearer, or Basic with the key as user name) to a key,
   * raising Stripe's 401 for a missing, unknown or revoked key.
   */
  authenticate(authorization: string | undefined): ApiKeyRecord {
    const secret = parseAuthorization(authorization);
    if (secret === null) {
      throw missingApiKey();
    }
    if (PUBLISHABLE_KEY_FORMAT.test(secret)) {
      throw publishableKeyUsed();
    }
    const record = this.keys.get(secret) ?? this.registerUnknownSecretKey(secret);
    if (!record) {
      throw invalidApiKey(secret);
    }
    if (record.revoked) {
      throw expiredApiKey(secret);
    }
    return record;
  }

  /** Raises Stripe's 403 unless the key may use `resource` with `access`. */
  authorize(key: ApiKeyRecord, resource: PermissionResource, access: Access): void {
    if (!key.restricted) {
      return;
    }
    const granted = key.permissions.get(resource);
    if (granted === 'write' || granted === access) {
      return;
    }
    throw permissionDenied(key.secret, key.accountId, `rak_${PERMISSION_NAMES[resource]}_${access}`);
  }

  private registerUnknownSecretKey(secret: string): ApiKeyRecord | undefined {
    const match = SECRET_KEY_FORMAT.exec(secret);
    // Restricted keys exist only once the control API has created them.
    if (!match || match[1] !== 'sk') {
      return undefined;
    }
    const mode = match[2] as Mode;
    const account = this.createAccount();
    const record: ApiKeyRecord = {
      secret,
      accountId: account.id,
      mode,
      restricted: false,
      permissions: new Map(),
      revoked: false,
    };
    this.keys.set(secret, record);
    this.logger.info(`Registered account ${account.id} for the new ${mode} key ${maskKey(secret)}`);
    return record;
  }
}

function parseAuthorization(header: string | undefined): string | null {
  if (!header) {
    return null;
  }
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const credentials = rest.join(' ');
  if (credentials === '') {
    return null;
  }
  if (scheme.toLowerCase() === 'bearer') {
    return credentials;
  }
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    const user = separator === -1 ? decoded : decoded.slice(0, separator);
    return user === '' ? null : user;
  }
  return null;
}

/** Builds the `GET /v1/account` object with the fields of a fully onboarded Standard account. */
export function toStripeAccount(account: AccountRecord): Stripe.Account {
  return {
    id: account.id,
    object: 'account',
    business_profile: {
      mcc: null,
      minority_owned_business_designation: null,
      name: account.displayName,
      specified_commercial_transactions_act_url: null,
      support_address: null,
      support_email: account.email,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: null,
    capabilities: { card_payments: 'active', transfers: 'active' },
    charges_enabled: true,
    controller: { type: 'account' },
    country: account.country,
    created: account.created,
    default_currency: account.defaultCurrency,
    details_submitted: true,
    email: account.email,
    external_accounts: {
      object: 'list',
      data: [],
      has_more: false,
      url: `/v1/accounts/${account.id}/external_accounts`,
    },
    metadata: {},
    payouts_enabled: true,
    settings: {
      branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
      card_payments: {
        decline_on: { avs_failure: false, cvc_failure: true },
        statement_descriptor_prefix: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
      dashboard: { display_name: account.displayName, timezone: 'Etc/UTC' },
      payments: {
        statement_descriptor: null,
        statement_descriptor_kana: null,
        statement_descriptor_kanji: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
    },
    tos_acceptance: { date: account.created, ip: null, user_agent: null },
    type: 'standard',
  };
}

/** Creates a request id like those in Stripe's `Request-Id` header. */
export function newRequestId(): string {
  return newId('req', 14);
}
