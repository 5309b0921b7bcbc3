/** Per-process settings of the Tenancy context beyond its roles. */
export interface TenancyModuleOptions {
  /** Audit actor label for work with no principal (jobs, the CLI); `system` when unset. */
  systemActorLabel?: string;
}

export const TENANCY_MODULE_OPTIONS = Symbol('TENANCY_MODULE_OPTIONS');
