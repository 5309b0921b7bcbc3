/**
 * Associated data for the secrets of a connection. It binds each ciphertext to
 * its tenant and purpose, so a ciphertext copied into another tenant's row, or
 * from the key column into the endpoint-secret column, does not decrypt.
 */
export function secretKeyAssociatedData(tenantId: string): string {
  return `tenant:${tenantId}:stripe-secret-key`;
}

/** Shared by the current and the retired endpoint secret, so a secret moves between the two columns as is. */
export function endpointSecretAssociatedData(tenantId: string): string {
  return `tenant:${tenantId}:stripe-endpoint-secret`;
}
