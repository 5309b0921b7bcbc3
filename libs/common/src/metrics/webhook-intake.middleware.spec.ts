import express from 'express';
import { register } from 'prom-client';
import request from 'supertest';
import { markDuplicateWebhookDelivery, webhookIntakeMetrics, webhookIntakeOutcome } from './webhook-intake.middleware';

async function intakeCount(outcome: string): Promise<number> {
  const { values } = await register.getSingleMetric('billing_webhook_intake_total')!.get();

  return values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
}

function appAnswering(status: number, duplicate = false): express.Express {
  const app = express();
  app.use('/webhooks/stripe', webhookIntakeMetrics());
  app.use('/webhooks/stripe', express.raw({ type: () => true, limit: '10b' }));
  app.post('/webhooks/stripe/:token', (req, res) => {
    if (duplicate) {
      markDuplicateWebhookDelivery(req);
    }
    res.status(status).json({});
  });

  return app;
}

describe('webhookIntakeOutcome', () => {
  it.each([
    [200, false, 'accepted'],
    [200, true, 'duplicate'],
    [400, false, 'signature_invalid'],
    [404, false, 'not_found'],
    [413, false, 'payload_too_large'],
    [429, false, 'rate_limited'],
    [503, false, 'unavailable'],
    [500, false, 'unavailable'],
    [405, false, undefined],
  ])('maps status %p (duplicate %p) to %p', (status, duplicate, expected) => {
    expect(webhookIntakeOutcome(status, duplicate)).toBe(expected);
  });
});

describe('webhookIntakeMetrics', () => {
  it('counts an accepted delivery', async () => {
    const before = await intakeCount('accepted');

    await request(appAnswering(200)).post('/webhooks/stripe/wh_1').send('{}').expect(200);

    expect(await intakeCount('accepted')).toBe(before + 1);
  });

  it('counts a duplicate delivery', async () => {
    const before = await intakeCount('duplicate');

    await request(appAnswering(200, true)).post('/webhooks/stripe/wh_1').send('{}').expect(200);

    expect(await intakeCount('duplicate')).toBe(before + 1);
  });

  it('counts a body the parser rejects as too large', async () => {
    const before = await intakeCount('payload_too_large');

    await request(appAnswering(200)).post('/webhooks/stripe/wh_1').set('Content-Type', 'application/json').send('{"a":"0123456789"}').expect(413);

    expect(await intakeCount('payload_too_large')).toBe(before + 1);
  });
});
