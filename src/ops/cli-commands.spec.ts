import { CLI_COMMANDS, cliCommandNames } from './cli.module';

describe('cliCommandNames', () => {
  it('names every registered command', () => {
    const names = cliCommandNames();

    expect(names).toHaveLength(CLI_COMMANDS.length);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['tokens:list', 'webhooks:replay', 'tenants:create']));
  });
});
