import { validationFailed } from '@app/common/errors/domain-error';
import { formatCliError } from './ops-command';

describe('formatCliError', () => {
  it.each(['tenant', 'tenantId'])('names the field %s by its option --tenant', (field) => {
    const output = formatCliError(validationFailed([{ field, message: 'must be a tenant slug or id' }], 'The tenant is invalid.'));

    expect(output).toContain('  --tenant: must be a tenant slug or id');
  });
});
