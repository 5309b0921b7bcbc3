import { Public } from '@app/common/roles/roles';
import { BeforeApplicationShutdown, Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ReadinessBody, readinessBody } from './readiness';
import { RedisHealthIndicator } from './redis.health';

const DATABASE_PING_TIMEOUT_MS = 2_000;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController implements BeforeApplicationShutdown {
  private shuttingDown = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * PostgreSQL and Redis are reported separately. The api role is ready while
   * PostgreSQL is, because intake stores events without Redis, and reports a
   * Redis outage as `degraded`; worker processes need both. The `all` role
   * serves intake, so it follows the api role. While the process shuts down
   * the route returns 503 `shutting_down`, so a load balancer stops sending
   * work.
   */
  @Get('ready')
  @ApiOperation({ summary: 'Whether the process can do its work: PostgreSQL, and Redis for worker processes' })
  @ApiOkResponse({ description: '@nestjs/terminus body: { status, info, error, details }' })
  @ApiServiceUnavailableResponse({ description: 'A dependency the role needs is down, or the process is shutting down' })
  async ready(@Res({ passthrough: true }) response: Response): Promise<ReadinessBody> {
    const [database, redis] = await Promise.all([
      this.database.pingCheck('database', { timeout: DATABASE_PING_TIMEOUT_MS }),
      this.redis.check('redis'),
    ]);
    const body = readinessBody(
      [
        { result: database, required: true },
        { result: redis, required: this.config.role === 'worker' },
      ],
      this.shuttingDown,
    );
    if (body.status !== 'ok') {
      response.status(HttpStatus.SERVICE_UNAVAILABLE);
    }

    return body;
  }

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }
}
