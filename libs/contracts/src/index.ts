export * from './invoicing.contracts';
export * from './payments.contracts';
export * from './stripe-connection.contracts';
export * from './tenancy.contracts';
export * from './webhooks.contracts';
