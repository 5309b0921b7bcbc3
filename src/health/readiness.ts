import type { HealthIndicatorResult } from '@nestjs/terminus';

/** A dependency's state in the readiness body: terminus' `up` and `down`, plus `degraded` for a dependency the role can do without. */
export type DependencyStatus = 'up' | 'down' | 'degraded';

/** The readiness body in @nestjs/terminus' shape: `info` what works, `error` what makes the process unready, `details` both. */
export interface ReadinessBody {
  status: 'ok' | 'error' | 'shutting_down';
  info: HealthIndicatorResult;
  error: HealthIndicatorResult;
  details: HealthIndicatorResult;
}

/**
 * Build the readiness body. A `required` dependency that is down makes the
 * process unready; an optional one that is down is reported `degraded` in
 * `info`. Terminus' own executor drops statuses other than up and down, which
 * is why this shapes the body itself.
 */
export function readinessBody(checks: { result: HealthIndicatorResult; required: boolean }[], shuttingDown: boolean): ReadinessBody {
  const body: ReadinessBody = { status: 'ok', info: {}, error: {}, details: {} };
  for (const { result, required } of checks) {
    for (const [key, state] of Object.entries(result)) {
      const reported = state.status === 'up' || required ? state : { ...state, status: 'degraded' as DependencyStatus };
      body.details[key] = reported as never;
      if (reported.status === 'down') {
        body.error[key] = reported as never;
      } else {
        body.info[key] = reported as never;
      }
    }
  }

  if (Object.keys(body.error).length > 0) {
    body.status = 'error';
  }
  if (shuttingDown) {
    body.status = 'shutting_down';
  }

  return body;
}
