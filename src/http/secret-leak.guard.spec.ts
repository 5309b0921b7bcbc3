import express from 'express';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { findSecretKind, secretLeakGuard } from './secret-leak.guard';

function appSending(send: (response: express.Response) => void): express.Express {
  const app = express();
  app.use(secretLeakGuard());
  app.get('/', (_request, response) => send(response));

  return app;
}

describe('secretLeakGuard', () => {
  it('passes an ordinary JSON body through', async () => {
    const response = await request(appSending((res) => res.json({ secretKey: 'sk_test_…gCcv' }))).get('/');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ secretKey: 'sk_test_…gCcv' });
  });

  it('withholds a body with a full secret key', async () => {
    const response = await request(appSending((res) => res.json({ key: 'sk_live_abcdefghijklmnop1234' }))).get('/');

    expect(response.status).toBe(500);
    expect(response.text).not.toContain('sk_live_abcdefghijklmnop1234');
    expect(response.body.code).toBe('internal_error');
  });

  it('withholds a restricted key inside an error body', async () => {
    const response = await request(appSending((res) => res.status(400).send(`bad key rk_test_abcdefghij1234`))).get('/');

    expect(response.status).toBe(500);
    expect(response.text).not.toContain('rk_test_abcdefghij1234');
  });

  it('withholds a webhook signing secret in HTML', async () => {
    const response = await request(appSending((res) => res.type('html').send('<p>whsec_abcdefghijklmnopqrstuvwx</p>'))).get('/');

    expect(response.status).toBe(500);
  });

  it('checks bodies written in several chunks', async () => {
    const response = await request(
      appSending((res) => {
        res.write('{"a":"sk_test_abcde');
        res.end('fghijklmn"}');
      }),
    ).get('/');

    expect(response.status).toBe(500);
    expect(response.text).not.toContain('sk_test_abcdefghijklmn');
  });

  describe('streamed bodies', () => {
    const directory = mkdtempSync(join(tmpdir(), 'secret-leak-guard-'));
    writeFileSync(join(directory, 'leak.html'), '<p>whsec_abcdefghijklmnopqrstuvwx</p>');
    writeFileSync(join(directory, 'page.html'), '<p>Settings</p>');

    function staticApp(): express.Express {
      const app = express();
      app.use(secretLeakGuard());
      app.use('/static', express.static(directory));
      app.get('/file/:name', (req, res) => res.sendFile(req.params.name, { root: directory }));
      app.get('/piped', (_req, res) => {
        res.type('js');
        Readable.from(['const key = "rk_live_', 'abcdefghij1234";']).pipe(res);
      });

      return app;
    }

    it('withholds a static file with a secret', async () => {
      const response = await request(staticApp()).get('/static/leak.html');

      expect(response.status).toBe(500);
      expect(response.text).not.toContain('whsec_');
    });

    it('withholds a file sent with sendFile', async () => {
      const response = await request(staticApp()).get('/file/leak.html');

      expect(response.status).toBe(500);
      expect(response.text).not.toContain('whsec_');
    });

    it('withholds a piped stream', async () => {
      const response = await request(staticApp()).get('/piped');

      expect(response.status).toBe(500);
      expect(response.text).not.toContain('rk_live_abcdefghij1234');
    });

    it('serves a static file without a secret', async () => {
      const response = await request(staticApp()).get('/static/page.html');

      expect(response.status).toBe(200);
      expect(response.text).toBe('<p>Settings</p>');
    });
  });

  it('keeps an empty 204 empty', async () => {
    const response = await request(appSending((res) => res.status(204).end())).get('/');

    expect(response.status).toBe(204);
  });
});

describe('findSecretKind', () => {
  it('names a Stripe key', () => {
    expect(findSecretKind(Buffer.from('x sk_test_abcdefghijkl x'))).toBe('stripe_key');
  });

  it('names a webhook secret', () => {
    expect(findSecretKind(Buffer.from('whsec_abcdefghijklmnopqrst'))).toBe('webhook_secret');
  });

  it('ignores a masked key', () => {
    expect(findSecretKind(Buffer.from('sk_live_…abcd'))).toBeNull();
  });
});
