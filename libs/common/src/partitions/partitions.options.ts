/** Settings of the partition jobs, from the validated configuration (PARTITION_RETENTION_DAYS). */
export class PartitionMaintenanceOptions {
  constructor(readonly retentionDays: number) {}
}

/** Injection token of the partition jobs' DataSource, which connects as the owner of the partitioned tables. */
export const PARTITION_OWNER_DATA_SOURCE = Symbol('PARTITION_OWNER_DATA_SOURCE');
