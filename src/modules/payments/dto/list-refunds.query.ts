import { PageQuery } from '@app/common/pagination/page-query';

export class ListRefundsQuery extends PageQuery {}
