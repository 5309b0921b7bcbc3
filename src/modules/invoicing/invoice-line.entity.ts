import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from './invoice.entity';

/** One line of an invoice; `position` orders the lines from 1. */
@Entity({ name: 'invoice_lines' })
export class InvoiceLineEntity {
  @PrimaryColumn({ name: 'invoice_id', type: 'uuid' })
  invoiceId!: string;

  @PrimaryColumn({ type: 'int' })
  position!: number;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'int' })
  quantity!: number;

  /** In the invoice currency's minor unit. */
  @Column({ name: 'unit_amount', type: 'bigint', transformer: bigintAsNumber })
  unitAmount!: number;

  /** quantity × unit_amount, stored so the lines and the total always agree with what was issued. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  amount!: number;
}
