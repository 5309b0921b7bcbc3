import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { RETRY_AFTER_HEADER, problemResponse } from '@app/common/errors/problem-details.response';
import { RequestContext } from '@app/common/context/request-context';
import { Public, Role, Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Inject, Ip, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiNoContentResponse, ApiOkResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { AuthService, MeBody } from './auth.service';
import { LoginDto, MeResponse } from './dto/auth.dto';
import { SESSION_COOKIE, sessionCookieOptions } from './session-cookie';

/** Every principal, operators included, may read itself and log out. */
const ANY_ROLE: Role[] = ['owner', 'admin', 'staff', 'operator'];

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly context: RequestContext,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Start a browser session: tenant users send `tenant`, operators leave it out. */
  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: MeResponse, description: 'Sets the HttpOnly session cookie billing_session (12 hours)' })
  @ApiUnauthorizedResponse(problemResponse('`unauthenticated`: the tenant, email or password is wrong, one answer for all three'))
  @ApiTooManyRequestsResponse(
    problemResponse(
      '`rate_limited`: too many failed logins for this account (RATE_LIMIT_LOGIN) or from this address (RATE_LIMIT_LOGIN_IP); `Retry-After` says when to retry',
      RETRY_AFTER_HEADER,
    ),
  )
  async login(@Body() body: LoginDto, @Ip() clientIp: string, @Res({ passthrough: true }) response: Response): Promise<MeBody> {
    const result = await this.auth.login(body, clientIp);
    response.cookie(SESSION_COOKIE, result.sessionId, sessionCookieOptions(this.config.publicBaseUrl));

    return result.me;
  }

  @Post('logout')
  @Roles(...ANY_ROLE)
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiCookieAuth()
  @ApiNoContentResponse({ description: 'Ends the session and clears its cookie' })
  async logout(@Res({ passthrough: true }) response: Response, @Body(EmptyBodyPipe) _body: undefined): Promise<void> {
    await this.auth.logout(this.context.requirePrincipal());
    const { maxAge: _maxAge, ...options } = sessionCookieOptions(this.config.publicBaseUrl);
    response.clearCookie(SESSION_COOKIE, options);
  }

  @Get('me')
  @Roles(...ANY_ROLE)
  @ApiBearerAuth()
  @ApiCookieAuth()
  @ApiOkResponse({ type: MeResponse })
  me(): Promise<MeBody> {
    return this.auth.describe(this.context.requirePrincipal());
  }
}
