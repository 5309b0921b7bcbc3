import type Stripe from 'stripe';
import { invalidRequest } from './errors';
import { newId, nowSeconds } from './ids';
import type { OperationContext } from './state';

/** The tax id types of Stripe's `tax_id_data[][type]` parameter, as stripe-node 23.2.0 lists them. */
export const TAX_ID_TYPES: readonly string[] = (
  'ad_nrt ae_trn al_tin am_tin ao_tin ar_cuit au_abn au_acn au_arn au_wpn aw_tin az_tin ba_tin bb_tin bd_bin ' +
  'bf_ifu bg_uic bh_vat bj_ifu bo_tin br_cnpj br_cpf bs_tin bw_vat by_tin ca_bn ca_gst_hst ca_pst_bc ca_pst_mb ' +
  'ca_pst_sk ca_qst cd_nif ch_uid ch_vat ci_vat cl_tin cm_niu cn_tin co_nit cr_tin cv_nif cz_dic de_stn do_rcn ' +
  'ec_ruc eg_tin es_cif et_tin eu_oss_vat eu_vat fo_vat fr_siren fr_siret fr_spi gb_vat ge_vat gh_tin gi_tin ' +
  'gn_nif hk_br hr_oib hu_tin ic_nif id_npwp il_vat in_gst is_kt is_vat it_cf jp_cn jp_rn jp_trn ke_pin kg_tin ' +
  'kh_tin kr_brn kz_bin la_tin li_uid li_vat lk_vat ma_vat md_cf md_vat me_pib mk_vat mr_nif mu_vat mx_rfc ' +
  'my_frp my_itn my_sst mz_nuit ng_tin no_vat no_voec np_pan nz_bn nz_gst om_vat pe_ruc ph_tin pl_nip pt_nif ' +
  'py_ruc ro_tin rs_pib ru_inn ru_kpp sa_vat sg_gst sg_uen si_tin sm_coe sn_ninea sr_fin sv_nit th_vat tj_tin ' +
  'tr_tin tt_bir tt_vat tw_vat tz_vat ua_vat ug_tin us_ein uy_ruc uz_tin uz_vat ve_rif vn_tin za_vat zm_tin zw_tin'
).split(' ');

/**
 * Value formats the emulator checks, for the common types. Stripe checks every type; the
 * emulator accepts any non-empty value for the types not listed here.
 */
const VALUE_FORMATS: Record<string, RegExp> = {
  us_ein: /^\d{2}-?\d{7}$/,
  eu_vat: /^[A-Z]{2}[0-9A-Z+*]{2,13}$/,
  gb_vat: /^GB(\d{9}|\d{12})$/,
  ca_bn: /^\d{9}$/,
  au_abn: /^\d{11}$/,
  ch_vat: /^CHE-?\d{3}\.?\d{3}\.?\d{3} ?(MWST|TVA|IVA)$/,
  in_gst: /^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$/,
};

// The country of the tax id types that name one country; `eu_vat` takes it from the value's prefix.
function countryOf(type: string, value: string): string | null {
  if (type === 'eu_vat' || type === 'eu_oss_vat') {
    return /^[A-Z]{2}/.test(value) ? value.slice(0, 2) : null;
  }
  const prefix = type.slice(0, 2).toUpperCase();
  return prefix === 'EU' ? null : prefix;
}

/** Raises Stripe's 400 for an unknown tax id type or a value in the wrong format. */
export function checkTaxIdData(data: { type?: string; value?: string }, param: string): { type: string; value: string } {
  if (data.type === undefined) {
    throw invalidRequest(`Missing required param: ${param}[type].`, { code: 'parameter_missing', param: `${param}[type]` });
  }
  if (data.value === undefined) {
    throw invalidRequest(`Missing required param: ${param}[value].`, { code: 'parameter_missing', param: `${param}[value]` });
  }
  if (!TAX_ID_TYPES.includes(data.type)) {
    throw invalidRequest(`Invalid ${param}[type]: must be one of ${TAX_ID_TYPES.join(', ')}`, { param: `${param}[type]` });
  }
  const format = VALUE_FORMATS[data.type];
  if (format && !format.test(data.value)) {
    throw invalidRequest(`Invalid value for ${data.type}.`, { code: 'tax_id_invalid', param: `${param}[value]` });
  }
  return { type: data.type, value: data.value };
}

/** Stores a customer's tax id and emits `customer.tax_id.created`. */
export function createTaxId(ctx: OperationContext, customerId: string, data: { type: string; value: string }): Stripe.TaxId {
  const taxId: Stripe.TaxId = {
    id: newId('txi'),
    object: 'tax_id',
    country: countryOf(data.type, data.value),
    created: nowSeconds(),
    customer: customerId,
    customer_account: null,
    livemode: ctx.scope.livemode,
    owner: { customer: customerId, customer_account: null, type: 'customer' },
    type: data.type as Stripe.TaxId.Type,
    value: data.value,
    // Stripe verifies EU VAT numbers and a few others asynchronously; the emulator never does.
    verification: { status: 'unavailable', verified_address: null, verified_name: null },
  };
  ctx.state.taxIds.insert(ctx.scope, taxId);
  ctx.state.emit(ctx.scope, 'customer.tax_id.created', taxId, ctx.eventRequest);
  return taxId;
}
