import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { JetflowError, type Scope } from '@jetflow/contracts';
import type { ScopedRequest } from './api-request.guard';

/** The scope `ApiRequestGuard` established for this request. */
export const RequestScope = createParamDecorator((_: unknown, context: ExecutionContext): Scope => {
  const scope = context.switchToHttp().getRequest<ScopedRequest>().jetflowScope;
  if (!scope) throw new JetflowError('INTERNAL', 'Route is missing ApiRequestGuard');
  return scope;
});
