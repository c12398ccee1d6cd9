import { JetflowError, toErrorBody, stepKey, subjectToken } from './index';

describe('contracts', () => {
  it('turns unknown errors into coded bodies in one place', () => {
    expect(toErrorBody(new JetflowError('NOT_FOUND', 'gone'))).toEqual({ code: 'NOT_FOUND', message: 'gone' });
    expect(toErrorBody(new Error('boom'))).toEqual({ code: 'INTERNAL', message: 'boom' });
    expect(toErrorBody('x', 'TOOL_ERROR')).toEqual({ code: 'TOOL_ERROR', message: 'x' });
  });
  it('keys step instances by iteration and makes subject-safe tokens', () => {
    expect(stepKey('a')).toBe('a');
    expect(stepKey('a', [0, 2])).toBe('a#0.2');
    expect(subjectToken('a b.c*>')).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
