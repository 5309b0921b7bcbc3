/** Settings of the partition jobs, from the validated configuration (PARTITION_RETENTION_DAYS). */
export class PartitionMaintenanceOptions {
  constructor(readonly retentionDays: number) {}
}
