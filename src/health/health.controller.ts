import { Public } from '@app/common/roles/roles';
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisHealthIndicator } from './redis.health';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * The api role is ready while PostgreSQL is, because intake stores events
   * without Redis; Redis' state is still reported. Workers need both.
   */
  @Get('ready')
  @HealthCheck()
  ready() {
    const workerOnly = this.config.role === 'worker';

    return this.health.check([
      () => this.database.pingCheck('database', { timeout: 2_000 }),
      async () => {
        const result = await this.redis.check('redis');
        if (workerOnly || result.redis.status === 'up') {
          return result;
        }

        // Terminus fails the check only on `down`, so a degraded Redis is reported without making the api role unready.
        return { redis: { ...result.redis, status: 'degraded' as 'up' } };
      },
    ]);
  }
}
