import { RequestContext } from '@app/common/context/request-context';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { FieldError } from '@app/common/errors/domain-error';
import { STRIPE_CONNECTION_STATE, StripeConnectionState } from '@app/contracts/stripe-connection.contracts';
import { CreateTenantInput, LiveModeAllowedEvent, TenantCreatedEvent } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLogService } from './audit-log.service';
import { Page, PageRequest } from './keyset-page';
import { TenantEntity } from './tenant.entity';
import { DEFAULT_TIME_ZONE, checkName, checkSlug, checkTimeZone, normalizeTimeZone } from './tenant-validation';
import { TenantsRepository } from './tenants.repository';
import { alreadyExists, assertValid, isUniqueViolation, liveConnectionBlocksForbiddingLiveMode, tenantNotFound } from './tenancy.errors';
import { TenantBody, toTenantBody } from './tenancy.mappers';

export interface UpdateTenantInput {
  name?: string;
  timeZone?: string;
}

/** Operator actions on tenants. Every change is audited, and creation and live-mode changes publish events. */
@Injectable()
export class TenantsService {
  private readonly logger = new Logger(TenantsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
    private readonly outbox: OutboxWriter,
    private readonly context: RequestContext,
    @Inject(STRIPE_CONNECTION_STATE) private readonly stripeConnection: StripeConnectionState,
  ) {}

  /**
   * Creates a tenant, its `tenant.created` event and audit entry. The id is
   * made here, so the whole transaction runs in the new tenant as the app
   * role, whose policy on `tenants` admits only the current tenant's row.
   */
  async create(input: CreateTenantInput): Promise<TenantBody> {
    const slug = input.slug.trim();
    const name = input.name.trim();
    const timeZoneErrors = input.timeZone == null ? [] : checkTimeZone(input.timeZone);
    assertValid([...checkSlug(slug), ...checkName(name), ...timeZoneErrors]);
    const timeZone = input.timeZone == null ? DEFAULT_TIME_ZONE : (normalizeTimeZone(input.timeZone) as string);

    let tenant: TenantEntity;
    try {
      const id = randomUUID();
      tenant = await this.context.runInTenant(id, () =>
        this.dataSource.transaction(async (manager) => {
          const created = await this.tenants.insert(manager, { id, slug, name, timeZone });
          await this.outbox.append(manager, new TenantCreatedEvent(created.id, created.id, { slug, name }));
          await this.auditLog.record({ tenantId: created.id, action: 'tenant.created', details: { slug, name, timeZone } }, manager);

          return created;
        }),
      );
    } catch (error) {
      if (isUniqueViolation(error, 'tenants_slug_key')) {
        throw alreadyExists('slug', 'is already taken', `A tenant with the slug "${slug}" already exists.`);
      }
      throw error;
    }

    this.logger.log({ tenantId: tenant.id, slug }, 'Tenant created');

    return toTenantBody(tenant);
  }

  async get(tenantId: string): Promise<TenantBody> {
    const tenant = await this.tenants.findById(tenantId);
    if (!tenant) {
      throw tenantNotFound();
    }

    return toTenantBody(tenant);
  }

  async list(page: PageRequest): Promise<Page<TenantBody>> {
    const result = await this.tenants.list(page);

    return { data: result.data.map(toTenantBody), nextCursor: result.nextCursor };
  }

  async update(tenantId: string, input: UpdateTenantInput): Promise<TenantBody> {
    const name = input.name?.trim();
    const timeZone = input.timeZone == null ? undefined : normalizeTimeZone(input.timeZone);
    const errors: FieldError[] = [];
    if (name !== undefined) {
      errors.push(...checkName(name));
    }
    if (timeZone === null) {
      errors.push(...checkTimeZone(input.timeZone ?? ''));
    }
    assertValid(errors);

    const tenant = await this.dataSource.transaction(async (manager) => {
      const current = await this.tenants.lockById(manager, tenantId);
      if (!current) {
        throw tenantNotFound();
      }

      const changes: Record<string, { from: string; to: string }> = {};
      if (name !== undefined && name !== current.name) {
        changes.name = { from: current.name, to: name };
        current.name = name;
      }
      if (timeZone && timeZone !== current.timeZone) {
        changes.timeZone = { from: current.timeZone, to: timeZone };
        current.timeZone = timeZone;
      }
      if (Object.keys(changes).length === 0) {
        return current;
      }

      const saved = await this.tenants.save(manager, current);
      await this.auditLog.record({ tenantId: current.id, action: 'tenant.updated', details: { changes } }, manager);

      return saved;
    });

    return toTenantBody(tenant);
  }

  /**
   * Set whether the tenant may connect live Stripe keys. Setting the current
   * value again changes nothing and records nothing. Forbidding live mode while
   * the tenant has live keys stored raises `invalid_state`. The flag is checked
   * only when keys are submitted, so it would not stop stored keys from taking live payments.
   */
  async setLiveModeAllowed(tenantId: string, allowed: boolean): Promise<TenantBody> {
    const tenant = await this.dataSource.transaction(async (manager) => {
      const current = await this.tenants.lockById(manager, tenantId);
      if (!current) {
        throw tenantNotFound();
      }
      if (current.liveModeAllowed === allowed) {
        return current;
      }
      // NOTE: a connect with live keys that read the flag before this lock can still store them after this check.
      if (!allowed && (await this.hasLiveKeys(tenantId))) {
        throw liveConnectionBlocksForbiddingLiveMode();
      }

      current.liveModeAllowed = allowed;
      const saved = await this.tenants.save(manager, current);
      await this.outbox.append(manager, new LiveModeAllowedEvent(current.id, current.id, { allowed }));
      await this.auditLog.record({ tenantId: current.id, action: 'tenant.live_mode_changed', details: { allowed } }, manager);

      return saved;
    });

    this.logger.log({ tenantId, liveModeAllowed: allowed }, 'Tenant live mode set');

    return toTenantBody(tenant);
  }

  /** Check whether the tenant's connection stores live keys, working (`connected`) or not (`error`, which verify can restore). */
  private async hasLiveKeys(tenantId: string): Promise<boolean> {
    const connection = await this.stripeConnection.getConnection(tenantId);

    return connection.status !== 'not_connected' && connection.mode === 'live';
  }
}
