import { RateLimitStore } from '@app/common/rate-limits/rate-limit-store';
import { AddressInfo, Server, Socket, createServer } from 'node:net';
import { TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';

/**
 * Starts a TCP server that passes ioredis' ready check (one INFO reply) and
 * then never replies, like a Redis that hangs.
 */
async function silentServer(): Promise<{ server: Server; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let readyCheckDone = false;
    // ioredis 5 sends CLIENT SETINFO twice, then INFO as its ready check,
    // sometimes several in one packet. Each gets its reply until INFO.
    socket.on('data', (data) => {
      for (const command of data.toString().matchAll(/\*\d+\r\n\$\d+\r\n([^\r]*)\r\n/g)) {
        if (readyCheckDone) {
          return;
        }
        if (command[1].toLowerCase() === 'info') {
          readyCheckDone = true;
          socket.write('$11\r\nloading:0\r\n\r\n');
        } else {
          socket.write('+OK\r\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return { server, url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

async function ready(store: RateLimitStore): Promise<void> {
  if (store.redis.status !== 'ready') {
    await new Promise((resolve) => store.redis.once('ready', resolve));
  }
}

describe('RateLimitStore', () => {
  it('runs the call against Redis', async () => {
    const store = new RateLimitStore({ redisUrl: TEST_REDIS_URL, keyPrefix: `${TEST_QUEUE_PREFIX.slice(1, -1)}:rate-limit` });
    try {
      await ready(store);
      const key = store.key('store-test', String(Date.now()));

      const count = await store.run('api', (redis) => redis.incr(key), -1);

      expect(count).toBe(1);
      await store.redis.del(key);
    } finally {
      store.onModuleDestroy();
    }
  });

  it('returns the fallback when Redis never replies', async () => {
    const silent = await silentServer();
    const store = new RateLimitStore({ redisUrl: silent.url, keyPrefix: 'silent', timeoutMs: 100 });
    try {
      await ready(store);
      let settled = false;
      const pending = store.run('api', (redis) => redis.incr('never'), -1).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false);

      expect(await pending).toBe(-1);
    } finally {
      store.onModuleDestroy();
      for (const socket of silent.sockets) {
        socket.destroy();
      }
      await new Promise((resolve) => silent.server.close(resolve));
    }
  });
});
