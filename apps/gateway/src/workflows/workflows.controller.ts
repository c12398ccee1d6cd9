import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import type { Scope } from '@jetflow/contracts';
import { z } from 'zod';
import { ApiRequestGuard } from '../common/api-request.guard';
import { cursorParam, jsonObjectBody, limitParam } from '../common/list-query.schema';
import { RequestScope } from '../common/request-scope.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ServicesClient } from '../rpc/services.client';

const workflowListQuery = z.object({
  status: z.enum(['active', 'archived'], { message: 'expected active or archived' }).optional(),
  limit: limitParam,
  cursor: cursorParam,
});
const definitionBody = new ZodValidationPipe(jsonObjectBody, 'body');

/** Workflow definitions: forwarded to the workflows service, which validates and versions them. */
@Controller('api/workflows')
@UseGuards(ApiRequestGuard)
export class WorkflowsController {
  constructor(private readonly services: ServicesClient) {}

  @Post()
  @HttpCode(201)
  create(@RequestScope() scope: Scope, @Body(definitionBody) body: Record<string, unknown>) {
    return this.services.workflows('create', { scope, body });
  }

  @Post('validate')
  @HttpCode(200)
  validate(@RequestScope() scope: Scope, @Body(definitionBody) body: Record<string, unknown>) {
    return this.services.workflows('validate', { scope, body });
  }

  @Get()
  list(@RequestScope() scope: Scope, @Query(new ZodValidationPipe(workflowListQuery, 'query')) query: z.output<typeof workflowListQuery>) {
    return this.services.workflows('list', { scope, query });
  }

  @Get(':id')
  get(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.workflows('get', { scope, id });
  }

  @Put(':id')
  update(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string, @Body(definitionBody) body: Record<string, unknown>) {
    return this.services.workflows('update', { scope, id, body });
  }

  @Delete(':id')
  archive(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.workflows('archive', { scope, id });
  }
}
