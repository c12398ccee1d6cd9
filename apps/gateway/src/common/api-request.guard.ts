import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Config } from '@jetflow/config';
import type { Scope } from '@jetflow/contracts';
import type { FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG } from '../gateway.tokens';
import { bearerToken, checkAuth, scopeFromHeaders } from './request-auth';

export type ScopedRequest = FastifyRequest & { jetflowScope?: Scope };

/** Every /api route: authenticate (401), then require the scope headers (400). */
@Injectable()
export class ApiRequestGuard implements CanActivate {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: Config) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    checkAuth(this.config, bearerToken(request.headers, request.query));
    request.jetflowScope = scopeFromHeaders(request.headers);
    return true;
  }
}
