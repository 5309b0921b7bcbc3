import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { QueueShutdownService } from './queue-shutdown';

/** The lossless, bounded shutdown of every BullMQ worker and queue of the process (QueueShutdownService). */
@Module({
  imports: [DiscoveryModule],
  providers: [QueueShutdownService],
})
export class QueueLifecycleModule {}
