import { repairedUrl } from './path-escapes';

describe('repairedUrl', () => {
  it.each([
    ['/api/v1/payments/%ZZ', '/api/v1/payments/%25ZZ'],
    ['/api/v1/payments/%C3%28', '/api/v1/payments/%25C3%2528'],
    ['/api/v1/payments/100%', '/api/v1/payments/100%25'],
    ['/api/v1/payments/%ZZ?status=failed&x=%ZZ', '/api/v1/payments/%25ZZ?status=failed&x=%ZZ'],
  ])('escapes the undecodable segment of %s', (url, expected) => {
    expect(repairedUrl(url)).toBe(expected);
  });

  it.each(['/api/v1/payments', '/api/v1/payments/caf%C3%A9', '/api/v1/payments?cursor=%ZZ'])('leaves %s alone', (url) => {
    expect(repairedUrl(url)).toBeNull();
  });
});
