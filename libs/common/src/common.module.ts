import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { RequestContext } from './context/request-context';
import { MethodDiscovery } from './discovery/method-discovery';
import { OutboxWriter } from './outbox/outbox.writer';
import { Clock } from './time/clock';

/** Services every context uses: the request context, the clock, the outbox writer. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [Clock, MethodDiscovery, OutboxWriter, RequestContext],
  exports: [Clock, MethodDiscovery, OutboxWriter, RequestContext],
})
export class CommonModule {}
