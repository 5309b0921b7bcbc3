import fc from 'fast-check';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { StripeApiError } from './errors';
import { FormObject, FormValue, decodeForm } from './form-decoding';

const SEED = Number(process.env.FC_SEED ?? 20261204);
const RUNS = 200;

/**
 * Keys Stripe parameters can have. Brackets are excluded because stripe-node
 * writes them unescaped, so `a[b]` as one key and `b` nested in `a` encode
 * alike. The empty key is excluded because stripe-node writes it as `a[]`,
 * which in Stripe's encoding means "append". The names that reach
 * Object.prototype are checked on their own below.
 */
const key = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((text) => !/[[\]]/.test(text) && !['__proto__', 'constructor', 'prototype'].includes(text)),
  fc.constantFrom('toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', '0', '1', 'metadata', 'amount'),
);

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

const { tree } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
  tree: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
  node: fc.oneof({ depthSize: 'small', maxDepth: 4 }, scalar, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(key, tie('node'), { maxKeys: 4 })),
}));

/**
 * The parameter as Stripe's server decodes it: every scalar as a string (null
 * as the empty string), arrays as objects keyed by index, and nothing for an
 * empty array or object, because no pair is sent for it.
 */
function asDecoded(value: unknown): FormValue | undefined {
  if (value === null) {
    return '';
  }
  if (typeof value !== 'object') {
    return String(value);
  }

  const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
  const result: FormObject = {};
  for (const [name, item] of entries) {
    const decoded = asDecoded(item);
    if (decoded !== undefined) {
      result[name] = decoded;
    }
  }

  return Object.keys(result).length > 0 ? result : undefined;
}

describe('form encoding round trip', () => {
  let server: Server;
  let stripe: Stripe;
  const bodies: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        response.setHeader('Content-Type', 'application/json');
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    stripe = new Stripe('sk_test_formroundtrip0000', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends the parameters through stripe-node, exactly as a Stripe client encodes them, and returns the body. */
  async function encodeWithStripeNode(params: Record<string, unknown>): Promise<string> {
    bodies.length = 0;
    await stripe.rawRequest('POST', '/v1/customers', params);

    return bodies[0];
  }

  it('decodes what stripe-node encodes', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (params) => {
        const body = await encodeWithStripeNode(params as Record<string, unknown>);

        expect(decodeForm(body)).toEqual(asDecoded(params) ?? {});
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('leaves Object.prototype alone', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (params) => {
        const body = await encodeWithStripeNode(params as Record<string, unknown>);
        decodeForm(body);

        expect(Object.getOwnPropertyNames(Object.prototype.toString)).toEqual(['length', 'name']);
        expect(Object.getOwnPropertyNames(Object.prototype.valueOf)).toEqual(['length', 'name']);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the parameter name %s', (name) => {
    expect(() => decodeForm(`metadata[${name}][polluted]=1`)).toThrow(StripeApiError);
    expect(() => decodeForm(`${name}[polluted]=1`)).toThrow(StripeApiError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
