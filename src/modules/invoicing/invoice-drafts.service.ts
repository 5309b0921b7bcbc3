import { RequestContext } from '@app/common/context/request-context';
import { FieldError, notFound, validationFailed } from '@app/common/errors/domain-error';
import { MAXIMUM_AMOUNT, currencyInfo } from '@app/common/money/currencies';
import { Injectable, Logger } from '@nestjs/common';
import { CustomersRepository } from './customers.repository';
import { CreateInvoiceDto, DEFAULT_DAYS_UNTIL_DUE } from './dto/create-invoice.dto';
import { InvoiceResponse } from './dto/invoice.response';
import { toInvoiceResponse } from './invoice.mapper';
import { invoiceStateConflict } from './invoicing.errors';
import { InvoicesRepository } from './invoices.repository';

/** Creates and deletes draft invoices of business customers. Drafts are local, because Stripe receives an invoice only once it is finalized. */
@Injectable()
export class InvoiceDraftsService {
  private readonly logger = new Logger(InvoiceDraftsService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly invoices: InvoicesRepository,
    private readonly customers: CustomersRepository,
  ) {}

  async create(dto: CreateInvoiceDto): Promise<InvoiceResponse> {
    const tenantId = this.context.requireTenantId();
    const lines = dto.lines.map((line) => ({ ...line, amount: line.quantity * line.unitAmount }));
    const total = lines.reduce((sum, line) => sum + line.amount, 0);
    const errors = checkAmounts(dto.currency, lines, total);
    const customer = await this.customers.findById(tenantId, dto.customerId);
    if (!customer) {
      errors.push({ field: 'customerId', message: 'is not a customer of this tenant' });
    }
    if (errors.length > 0 || !customer) {
      throw validationFailed(errors);
    }

    const invoice = await this.invoices.transaction((manager) =>
      this.invoices.insertWithLines(
        manager,
        {
          tenantId,
          number: null,
          status: 'draft',
          customerId: customer.id,
          paymentId: null,
          currency: dto.currency,
          total,
          amountPaid: 0,
          amountRefunded: 0,
          dueDate: null,
          livemode: customer.livemode,
          hostedInvoiceUrl: null,
          pdfUrl: null,
          stripeInvoiceId: null,
          memo: dto.memo ?? null,
          issuedAt: null,
          paidAt: null,
          voidedAt: null,
          daysUntilDue: dto.daysUntilDue ?? DEFAULT_DAYS_UNTIL_DUE,
          overdue: false,
          stripeCreateAttemptedAt: null,
          sentAt: null,
          stripeVoidConfirmedAt: null,
          amountRefundedAsOf: null,
          finalizeIdempotencyKeyId: null,
        },
        lines,
      ),
    );
    this.logger.log({ tenantId, invoiceId: invoice.id, customerId: customer.id, total }, 'Draft invoice created');

    const created = await this.invoices.findById(tenantId, invoice.id);
    if (!created) {
      throw new Error(`Invoice ${invoice.id} disappeared right after it was created`);
    }

    return toInvoiceResponse(created);
  }

  /** Deletes a draft with its lines, and raises 409 `invalid_state` for any other status. */
  async delete(id: string): Promise<void> {
    const tenantId = this.context.requireTenantId();
    const invoice = await this.invoices.findEntity(tenantId, id);
    if (!invoice) {
      throw notFound('invoice');
    }
    if (invoice.status !== 'draft' || !(await this.invoices.deleteDraft(tenantId, id))) {
      const current = (await this.invoices.findEntity(tenantId, id)) ?? invoice;
      throw invoiceStateConflict('deleted', current.status, ['draft']);
    }

    this.logger.log({ tenantId, invoiceId: id }, 'Draft invoice deleted');
  }
}

/** Checks the currency and that every amount fits Stripe's largest amount, field by field. */
function checkAmounts(currency: string, lines: { amount: number; unitAmount: number }[], total: number): FieldError[] {
  const info = currencyInfo(currency);
  if (!info) {
    return [{ field: 'currency', message: `"${currency}" is not a currency Stripe charges in` }];
  }

  const errors: FieldError[] = [];
  lines.forEach((line, index) => {
    if (line.amount > MAXIMUM_AMOUNT) {
      errors.push({ field: `lines.${index}.quantity`, message: `quantity × unitAmount must be at most ${MAXIMUM_AMOUNT}` });
    }
    if (line.unitAmount % info.amountStep !== 0) {
      errors.push({ field: `lines.${index}.unitAmount`, message: `must be a multiple of ${info.amountStep} in ${currency}` });
    }
  });
  if (errors.length === 0 && total > MAXIMUM_AMOUNT) {
    errors.push({ field: 'lines', message: `the invoice total must be at most ${MAXIMUM_AMOUNT}` });
  }

  return errors;
}
