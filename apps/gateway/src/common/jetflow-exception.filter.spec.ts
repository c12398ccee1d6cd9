import { HttpException, NotFoundException } from '@nestjs/common';
import { ERROR_CODES, JetflowError } from '@jetflow/contracts';
import { toHttpError } from './jetflow-exception.filter';

describe('toHttpError', () => {
  it.each([
    ['VALIDATION_ERROR', 400],
    ['UNAUTHORIZED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['PAYLOAD_TOO_LARGE', 413],
    ['RATE_LIMIT', 429],
    ['INTERNAL', 500],
    ['UNAVAILABLE', 503],
    ['TIMEOUT', 504],
  ] as const)('maps %s to %i', (code, status) => {
    expect(toHttpError(new JetflowError(code, 'm'))).toEqual({ status, body: { error: { code, message: 'm' } } });
  });

  it('maps every code to some status', () => {
    for (const code of ERROR_CODES) expect(toHttpError(new JetflowError(code, 'm')).status).toBeGreaterThanOrEqual(400);
  });

  it('keeps details', () => {
    const details = [{ path: 'steps[0]', message: 'bad' }];
    expect(toHttpError(new JetflowError('VALIDATION_ERROR', 'invalid', details)).body).toEqual({
      error: { code: 'VALIDATION_ERROR', message: 'invalid', details },
    });
  });

  it('accepts coded plain errors (reply errors)', () => {
    expect(toHttpError(Object.assign(new Error('gone'), { code: 'NOT_FOUND' })).status).toBe(404);
  });

  it('gives framework errors a client code', () => {
    expect(toHttpError(new NotFoundException('Cannot GET /nope')).body.error).toEqual({ code: 'NOT_FOUND', message: 'Cannot GET /nope' });
    const tooLarge = new HttpException('x', 413, { cause: Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' }) });
    expect(toHttpError(tooLarge)).toEqual({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' } } });
    const badJson = new HttpException('x', 400, { cause: Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY' }) });
    expect(toHttpError(badJson)).toEqual({ status: 400, body: { error: { code: 'VALIDATION_ERROR', message: 'Malformed JSON body' } } });
    expect(toHttpError(new HttpException('x', 415)).body.error.code).toBe('VALIDATION_ERROR');
  });

  it('hides unknown failures behind INTERNAL', () => {
    expect(toHttpError(new TypeError('secret detail'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'Internal error' } } });
    expect(toHttpError('nope').status).toBe(500);
    expect(toHttpError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).status).toBe(500);
  });
});
