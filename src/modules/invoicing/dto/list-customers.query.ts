import { PageQuery } from '@app/common/pagination/page-query';

export class ListCustomersQuery extends PageQuery {}
