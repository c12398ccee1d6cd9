import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import type { Scope } from '@jetflow/contracts';
import type { z } from 'zod';
import { ApiRequestGuard } from '../common/api-request.guard';
import { jsonObjectBody, listQuerySchema } from '../common/list-query.schema';
import { RequestScope } from '../common/request-scope.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ServicesClient } from '../rpc/services.client';

const agentBody = new ZodValidationPipe(jsonObjectBody, 'body');

/** Agents (prompt, model, tools, provider): forwarded to the workflows service, which validates them. */
@Controller('api/agents')
@UseGuards(ApiRequestGuard)
export class AgentsController {
  constructor(private readonly services: ServicesClient) {}

  @Post()
  @HttpCode(201)
  create(@RequestScope() scope: Scope, @Body(agentBody) body: Record<string, unknown>) {
    return this.services.agents('create', { scope, body });
  }

  @Get()
  list(@RequestScope() scope: Scope, @Query(new ZodValidationPipe(listQuerySchema, 'query')) query: z.output<typeof listQuerySchema>) {
    return this.services.agents('list', { scope, query });
  }

  @Get(':id')
  get(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.agents('get', { scope, id });
  }

  @Put(':id')
  update(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string, @Body(agentBody) body: Record<string, unknown>) {
    return this.services.agents('update', { scope, id, body });
  }

  @Delete(':id')
  delete(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.agents('delete', { scope, id });
  }
}
