import { createValidationPipe } from '@app/common/validation/validation.pipe';
import { DomainError } from '@app/common/errors/domain-error';
import { CreateCustomerDto } from '../modules/invoicing/dto/create-customer.dto';
import { CreateInvoiceDto } from '../modules/invoicing/dto/create-invoice.dto';
import { CreateTenantDto, UpdateTenantDto } from '../modules/tenancy/dto/tenant.dto';
import { CreateTokenDto } from '../modules/tenancy/dto/token.dto';
import { CreateUserDto } from '../modules/tenancy/dto/user.dto';
import { CreatePaymentDto } from '../modules/payments/dto/create-payment.dto';

async function fieldErrors(metatype: new () => object, value: object): Promise<DomainError['errors']> {
  try {
    await createValidationPipe().transform(value, { type: 'body', metatype });
  } catch (error) {
    return (error as DomainError).errors;
  }
  throw new Error('the pipe accepted the value');
}

/** Values without a visible character: a space, a tab and a newline, a no-break space, a zero-width space, an ideographic space and a word joiner, control characters and a Braille blank. */
const BLANK_VALUES = [' ', '\t\n', '\u00a0', '\u200b', '\u3000\u2060', '\u0007\u007f', '\u2800'];
const INVOICE = { customerId: '7f2d9b52-3a51-4a8e-9d0e-2f4b6c1e8a10', currency: 'usd', lines: [{ description: 'Seats', quantity: 1, unitAmount: 100 }] };
const PAYMENT = { amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa' };
const CUSTOMER = { name: 'Acme', email: 'billing@acme.example' };

/** A field's name, its DTO, a body with the value in the field, and the field's path in errors. */
type TextField = [string, new () => object, (value: string) => object, string];

const REQUIRED_TEXT_FIELDS: TextField[] = [
  ['tenant name on create', CreateTenantDto, (name) => ({ slug: 'acme', name }), 'name'],
  ['tenant name on update', UpdateTenantDto, (name) => ({ name }), 'name'],
  ['token label', CreateTokenDto, (label) => ({ role: 'owner', label }), 'label'],
  ['customer name', CreateCustomerDto, (name) => ({ ...CUSTOMER, name }), 'name'],
  ['invoice line description', CreateInvoiceDto, (description) => ({ ...INVOICE, lines: [{ description, quantity: 1, unitAmount: 100 }] }), 'lines.0.description'],
  ['tax id value', CreateCustomerDto, (value) => ({ ...CUSTOMER, taxId: { type: 'us_ein', value } }), 'taxId.value'],
];

describe('blank required text fields', () => {
  const cases = REQUIRED_TEXT_FIELDS.flatMap(([name, metatype, body, field]) => ['', ...BLANK_VALUES].map((value) => [name, value, metatype, body(value), field] as const));

  it.each(cases)('rejects a blank %s %j as blank', async (_name, _value, metatype, body, field) => {
    const errors = await fieldErrors(metatype, body);

    expect(errors).toEqual([{ field, message: 'must not be blank' }]);
  });
});

const OPTIONAL_TEXT_FIELDS: TextField[] = [
  ['invoice memo', CreateInvoiceDto, (memo) => ({ ...INVOICE, memo }), 'memo'],
  ['payment description', CreatePaymentDto, (description) => ({ ...PAYMENT, description }), 'description'],
  ['metadata value', CreatePaymentDto, (note) => ({ ...PAYMENT, metadata: { note } }), 'metadata.note'],
  ['address line1', CreateCustomerDto, (line1) => ({ ...CUSTOMER, address: { line1, country: 'US' } }), 'address.line1'],
  ['address line2', CreateCustomerDto, (line2) => ({ ...CUSTOMER, address: { line1: '1 Main St', line2 } }), 'address.line2'],
  ['address city', CreateCustomerDto, (city) => ({ ...CUSTOMER, address: { city } }), 'address.city'],
  ['address state', CreateCustomerDto, (state) => ({ ...CUSTOMER, address: { city: 'Chicago', state } }), 'address.state'],
  ['address postal code', CreateCustomerDto, (postalCode) => ({ ...CUSTOMER, address: { city: 'Chicago', postalCode } }), 'address.postalCode'],
];

describe('blank optional text fields', () => {
  const cases = OPTIONAL_TEXT_FIELDS.flatMap(([name, metatype, body, field]) => BLANK_VALUES.map((value) => [name, value, metatype, body(value), field] as const));

  it.each(cases)('rejects a blank %s %j as blank', async (_name, _value, metatype, body, field) => {
    const errors = await fieldErrors(metatype, body);

    expect(errors).toEqual([{ field, message: 'must not be blank' }]);
  });

  it.each(OPTIONAL_TEXT_FIELDS)('accepts an empty %s', async (_name, metatype, body) => {
    await expect(createValidationPipe().transform(body(''), { type: 'body', metatype })).resolves.toBeInstanceOf(metatype);
  });

  it.each(OPTIONAL_TEXT_FIELDS)('accepts text between spaces in the %s', async (_name, metatype, body) => {
    await expect(createValidationPipe().transform(body('\u00a0Suite 4 '), { type: 'body', metatype })).resolves.toBeInstanceOf(metatype);
  });
});

describe('text fields Stripe limits', () => {
  // Stripe's emulator counts UTF-16 code units, where an emoji is two. A memo Stripe refuses would leave a numbered invoice unissued.
  it.each([
    ['invoice memo', CreateInvoiceDto, (memo: string) => ({ ...INVOICE, memo }), 'memo', 1000],
    ['payment description', CreatePaymentDto, (description: string) => ({ ...PAYMENT, description }), 'description', 1000],
    ['customer name', CreateCustomerDto, (name: string) => ({ ...CUSTOMER, name }), 'name', 256],
  ])('counts an emoji in the %s as two', async (_name, metatype, body, field, limit) => {
    const errors = await fieldErrors(metatype, body('\u{1f600}'.repeat(limit / 2 + 1)));

    expect(errors).toEqual([{ field, message: `must be at most ${limit} characters long (an emoji counts as two)` }]);
    await expect(createValidationPipe().transform(body('\u{1f600}'.repeat(limit / 2)), { type: 'body', metatype })).resolves.toBeInstanceOf(metatype);
    await expect(createValidationPipe().transform(body('x'.repeat(limit)), { type: 'body', metatype })).resolves.toBeInstanceOf(metatype);
  });
});

describe('email fields with invisible characters', () => {
  it.each([
    ['customer email', CreateCustomerDto, (email: string) => ({ ...CUSTOMER, email }), 'email'],
    ['receipt email', CreatePaymentDto, (receiptEmail: string) => ({ ...PAYMENT, receiptEmail }), 'receiptEmail'],
    ['user email', CreateUserDto, (email: string) => ({ email, password: 'correct horse battery', role: 'owner' }), 'email'],
  ])('rejects a %s with a zero-width space', async (_name, metatype, body, field) => {
    for (const email of ['owner\u200b@acme.example', '\u200b@acme.example', 'owner@acme\u00ad.example']) {
      const errors = await fieldErrors(metatype, body(email));

      expect({ email, errors }).toEqual({ email, errors: [{ field, message: 'must be an email address' }] });
    }
  });
});

describe('invalid email fields', () => {
  it.each([
    ['customer email', CreateCustomerDto, { name: 'Acme', email: 'not-an-email' }, 'email'],
    ['receipt email', CreatePaymentDto, { amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa', receiptEmail: 'nope' }, 'receiptEmail'],
  ])('rejects an invalid %s as an email address', async (_name, metatype, body, field) => {
    const errors = await fieldErrors(metatype, body);

    expect(errors).toEqual([{ field, message: 'must be an email address' }]);
  });
});
