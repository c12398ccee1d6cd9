import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { ExecuteBody, Scope } from '@jetflow/contracts';
import type { z } from 'zod';
import { ApiRequestGuard } from '../common/api-request.guard';
import { RequestScope } from '../common/request-scope.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ServicesClient } from '../rpc/services.client';
import { chatMessageBodySchema, eventsQuerySchema, executeBodySchema, executionListQuerySchema, idempotencyKeySchema } from './execution-request.schemas';

/** Starting, reading and cancelling executions: forwarded to the executions service. */
@Controller('api')
@UseGuards(ApiRequestGuard)
export class ExecutionsController {
  constructor(private readonly services: ServicesClient) {}

  @Post('workflows/:id/execute')
  @HttpCode(202)
  execute(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) workflowId: string,
    @Body(new ZodValidationPipe(executeBodySchema, 'body')) body: ExecuteBody,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    const idempotencyKey = new ZodValidationPipe(idempotencyKeySchema, 'Idempotency-Key header').transform(idempotencyKeyHeader);
    return this.services.executions('start', {
      scope,
      workflow_id: workflowId,
      body,
      ...(idempotencyKey !== undefined ? { idempotency_key: idempotencyKey } : {}),
    });
  }

  @Get('executions')
  list(@RequestScope() scope: Scope, @Query(new ZodValidationPipe(executionListQuerySchema, 'query')) query: z.output<typeof executionListQuerySchema>) {
    return this.services.executions('list', { scope, query });
  }

  @Get('executions/:id')
  get(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.executions('get', { scope, id });
  }

  /** Continues a chat execution: a user turn for the agent step it waits on. */
  @Post('executions/:id/messages')
  @HttpCode(202)
  message(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) id: string,
    @Body(new ZodValidationPipe(chatMessageBodySchema, 'body')) body: z.output<typeof chatMessageBodySchema>,
  ) {
    return this.services.executions('message', { scope, id, content: body.content ?? '', ...(body.end ? { end: true } : {}), ...(body.message_id ? { message_id: body.message_id } : {}) });
  }

  @Post('executions/:id/cancel')
  @HttpCode(200)
  cancel(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.executions('cancel', { scope, id });
  }

  @Get('executions/:id/events')
  events(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string, @Query(new ZodValidationPipe(eventsQuerySchema, 'query')) query: z.output<typeof eventsQuerySchema>) {
    return this.services.executions('events', { scope, id, ...query });
  }
}
