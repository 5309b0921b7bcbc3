import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics, register } from 'prom-client';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { RedisHealthIndicator } from './redis.health';

// Process metrics once per process; Nest may build the module more than once in tests.
if (!register.getSingleMetric('process_cpu_user_seconds_total')) {
  collectDefaultMetrics();
}

/** /health/live, /health/ready and /metrics: the routes every role serves. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, MetricsController],
  providers: [RedisHealthIndicator],
})
export class HealthModule {}
