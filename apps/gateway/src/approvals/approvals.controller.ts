import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { Scope } from '@jetflow/contracts';
import { z } from 'zod';
import { ApiRequestGuard } from '../common/api-request.guard';
import { cursorParam, limitParam } from '../common/list-query.schema';
import { RequestScope } from '../common/request-scope.decorator';
import { isUuid, UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ServicesClient } from '../rpc/services.client';

const approvalListQuery = z.object({
  // The approvals service owns the status vocabulary (pending, approved, rejected, ...).
  status: z.string().regex(/^[a-z_]{1,32}$/, 'expected a status such as pending').optional(),
  execution_id: z.string().refine(isUuid, 'expected an execution id (UUID)').optional(),
  limit: limitParam,
  cursor: cursorParam,
});

const decisionBody = z.object(
  {
    decision: z.enum(['approved', 'rejected'], { message: 'expected approved or rejected' }),
    comment: z.string({ message: 'expected a string' }).max(10_000).optional(),
  },
  { message: 'expected a JSON object body' },
);

/** Human approvals: forwarded to the approvals service (`list`, `decide`). */
@Controller('api/approvals')
@UseGuards(ApiRequestGuard)
export class ApprovalsController {
  constructor(private readonly services: ServicesClient) {}

  @Get()
  list(@RequestScope() scope: Scope, @Query(new ZodValidationPipe(approvalListQuery, 'query')) query: z.output<typeof approvalListQuery>) {
    return this.services.approvals('list', { scope, query });
  }

  @Post(':id')
  @HttpCode(200)
  decide(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string, @Body(new ZodValidationPipe(decisionBody, 'body')) body: z.output<typeof decisionBody>) {
    return this.services.approvals('decide', { scope, id, body });
  }
}
