import { readinessBody } from './readiness';

const DATABASE_UP = { database: { status: 'up' as const } };
const DATABASE_DOWN = { database: { status: 'down' as const, message: 'timeout of 2000ms exceeded' } };
const REDIS_UP = { redis: { status: 'up' as const } };
const REDIS_DOWN = { redis: { status: 'down' as const, message: 'connect ECONNREFUSED' } };

describe('readinessBody', () => {
  it('is ok with every dependency up', () => {
    expect(readinessBody([{ result: DATABASE_UP, required: true }, { result: REDIS_UP, required: true }], false)).toEqual({
      status: 'ok',
      info: { database: { status: 'up' }, redis: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('fails on a required dependency that is down', () => {
    const body = readinessBody([{ result: DATABASE_UP, required: true }, { result: REDIS_DOWN, required: true }], false);

    expect(body.status).toBe('error');
    expect(body.error).toEqual(REDIS_DOWN);
    expect(body.info).toEqual(DATABASE_UP);
  });

  it('reports an optional dependency that is down as degraded and stays ok', () => {
    const body = readinessBody([{ result: DATABASE_UP, required: true }, { result: REDIS_DOWN, required: false }], false);

    expect(body.status).toBe('ok');
    expect(body.info.redis).toEqual({ status: 'degraded', message: 'connect ECONNREFUSED' });
    expect(body.error).toEqual({});
  });

  it('fails when the database is down whatever Redis does', () => {
    expect(readinessBody([{ result: DATABASE_DOWN, required: true }, { result: REDIS_UP, required: false }], false).status).toBe('error');
  });

  it('reports shutting_down while the process stops', () => {
    expect(readinessBody([{ result: DATABASE_UP, required: true }], true).status).toBe('shutting_down');
  });
});
