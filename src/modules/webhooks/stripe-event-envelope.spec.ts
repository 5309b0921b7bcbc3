import { parseStripeEventEnvelope } from './stripe-event-envelope';

const EVENT = { id: 'evt_1AbC', object: 'event', type: 'payment_intent.succeeded', created: 1764900000, livemode: false, api_version: '2026-11-18.endive', data: { object: {} } };

function body(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

describe('parseStripeEventEnvelope', () => {
  it('reads the envelope of a Stripe event', () => {
    expect(parseStripeEventEnvelope(body(EVENT))).toEqual({
      id: 'evt_1AbC',
      type: 'payment_intent.succeeded',
      created: 1764900000,
      livemode: false,
      apiVersion: '2026-11-18.endive',
    });
  });

  it('stores a missing api_version as null', () => {
    const { api_version: _apiVersion, ...withoutVersion } = EVENT;

    expect(parseStripeEventEnvelope(body(withoutVersion))?.apiVersion).toBeNull();
  });

  it.each([
    ['invalid JSON', Buffer.from('{"id":', 'utf8')],
    ['an empty body', Buffer.alloc(0)],
    ['a JSON array', body([EVENT])],
    ['JSON null', body(null)],
    ['an id without evt_', body({ ...EVENT, id: 'ch_1AbC' })],
    ['a numeric id', body({ ...EVENT, id: 42 })],
    ['an id over 255 characters', body({ ...EVENT, id: `evt_${'a'.repeat(252)}` })],
    ['a missing type', body({ ...EVENT, type: undefined })],
    ['an empty type', body({ ...EVENT, type: '' })],
    ['a string created', body({ ...EVENT, created: '1764900000' })],
    ['a fractional created', body({ ...EVENT, created: 1764900000.5 })],
    ['a negative created', body({ ...EVENT, created: -1 })],
    ['a string livemode', body({ ...EVENT, livemode: 'false' })],
    ['a missing livemode', body({ ...EVENT, livemode: undefined })],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from('{"id":"evt_1","x":"', 'utf8'), Buffer.from([0xff, 0xfe]), Buffer.from('"}', 'utf8')])],
    ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body(EVENT)])],
  ])('rejects %s', (_case, rawBody) => {
    expect(parseStripeEventEnvelope(rawBody)).toBeNull();
  });
});
