import { RequestContext } from '@app/common/context/request-context';
import type { SqlParameters } from '@app/common/database/sql-parameters';
import type { AuditActor, AuditEntryInput } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditLogRepository } from './audit-log.repository';
import { Page, PageRequest } from './keyset-page';
import { TENANCY_MODULE_OPTIONS, TenancyModuleOptions } from './tenancy-options';
import { AuditEntryBody, toAuditEntryBody } from './tenancy.mappers';

@Injectable()
export class AuditLogService {
  constructor(
    private readonly repository: AuditLogRepository,
    private readonly context: RequestContext,
    @Inject(TENANCY_MODULE_OPTIONS) private readonly options: TenancyModuleOptions,
  ) {}

  /** Write an entry, inside the caller's transaction when `manager` is given. */
  async record(entry: AuditEntryInput, manager?: EntityManager): Promise<void> {
    const actor = entry.actor ?? this.currentActor();

    await this.repository.insert(
      {
        tenantId: entry.tenantId,
        actorKind: actor.kind,
        actorId: actor.id,
        actorLabel: actor.label,
        action: entry.action,
        details: entry.details ?? {},
      },
      manager,
    );
  }

  /**
   * Writes the expression `audit_appended` of a caller's statement, which records a tenant's
   * entry only when the one row of `onlyIfRowsIn` exists. `detailsPatch`, jsonb over that row,
   * is merged into the details. Platform-wide entries go through their database function instead.
   */
  appendExpression(parameters: SqlParameters, entry: AuditEntryInput, options: { onlyIfRowsIn: string; detailsPatch?: string }): string {
    if (entry.tenantId === null) {
      throw new Error('appendExpression records tenant entries only; record platform-wide ones with record()');
    }
    const actor = entry.actor ?? this.currentActor();
    const details = parameters.add(JSON.stringify(entry.details ?? {}), 'jsonb');
    const patched = options.detailsPatch === undefined ? details : `${details} || ${options.detailsPatch}`;

    return `audit_appended AS (
         INSERT INTO audit_log (tenant_id, actor_kind, actor_id, actor_label, action, details)
         SELECT ${parameters.add(entry.tenantId, 'uuid')}, ${parameters.add(actor.kind, 'text')}, ${parameters.add(actor.id, 'text')},
                ${parameters.add(actor.label, 'text')}, ${parameters.add(entry.action, 'text')}, ${patched}
           FROM ${options.onlyIfRowsIn}
         RETURNING id
       )`;
  }

  /** Returns the principal of the current request as an actor, or the system actor when there is none (jobs, the CLI). */
  currentActor(): AuditActor {
    const principal = this.context.principal;
    if (!principal) {
      return { kind: 'system', id: null, label: this.options.systemActorLabel ?? 'system' };
    }

    // A tenant reading its log must tell a platform operator's token from its own tokens.
    const kind = principal.kind === 'token' && principal.role === 'operator' ? 'operator' : principal.kind;

    return { kind, id: principal.id, label: principal.label };
  }

  /** Lists one tenant's entries, newest first. */
  async list(tenantId: string, page: PageRequest): Promise<Page<AuditEntryBody>> {
    const result = await this.repository.list(tenantId, page);

    return { data: result.data.map(toAuditEntryBody), nextCursor: result.nextCursor };
  }

  /** Lists every tenant's entries and the platform-wide ones, newest first: the operators' unfiltered list. */
  async listAcrossTenants(page: PageRequest): Promise<Page<AuditEntryBody>> {
    const result = await this.repository.listAcrossTenants(page);

    return { data: result.data.map(toAuditEntryBody), nextCursor: result.nextCursor };
  }
}
