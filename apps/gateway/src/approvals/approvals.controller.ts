import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
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
  workflow_id: z.string().refine(isUuid, 'expected a workflow id (UUID)').optional(),
  limit: limitParam,
  cursor: cursorParam,
});

const comment = z.string({ message: 'expected a string' }).max(10_000).optional();

const decisionBody = z.object(
  {
    decision: z.enum(['approved', 'rejected'], { message: 'expected approved or rejected' }),
    comment,
  },
  { message: 'expected a JSON object body' },
);

// elevAIte's approve/deny: the decision is the route's; the body (optional) may carry a comment.
const fixedDecisionBody = z
  .object({ comment }, { message: 'expected a JSON object body' })
  .optional()
  .transform((b) => b ?? {});

/** The approver's email for the approvers check (`X-elevAIte-UserEmail`), when sent. */
function approverEmail(raw: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value ? value.slice(0, 320) : undefined;
}

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
  decide(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) id: string,
    @Body(new ZodValidationPipe(decisionBody, 'body')) body: z.output<typeof decisionBody>,
    @Headers('x-elevaite-useremail') email?: string | string[],
  ) {
    return this.services.approvals('decide', { scope, id, body, approver_email: approverEmail(email) });
  }

  @Post(':id/approve')
  @HttpCode(200)
  approve(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) id: string,
    @Body(new ZodValidationPipe(fixedDecisionBody, 'body')) body: z.output<typeof fixedDecisionBody>,
    @Headers('x-elevaite-useremail') email?: string | string[],
  ) {
    return this.services.approvals('decide', { scope, id, body: { ...body, decision: 'approved' }, approver_email: approverEmail(email) });
  }

  @Post(':id/deny')
  @HttpCode(200)
  deny(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) id: string,
    @Body(new ZodValidationPipe(fixedDecisionBody, 'body')) body: z.output<typeof fixedDecisionBody>,
    @Headers('x-elevaite-useremail') email?: string | string[],
  ) {
    return this.services.approvals('decide', { scope, id, body: { ...body, decision: 'rejected' }, approver_email: approverEmail(email) });
  }
}
