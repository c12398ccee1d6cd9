import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import type { Scope } from '@jetflow/contracts';
import type { z } from 'zod';
import { ApiRequestGuard } from '../common/api-request.guard';
import { jsonObjectBody, listQuerySchema } from '../common/list-query.schema';
import { RequestScope } from '../common/request-scope.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ServicesClient } from '../rpc/services.client';

const toolBody = new ZodValidationPipe(jsonObjectBody, 'body');

/** User tools: forwarded to the tools service, which validates names, endpoints and JSON Schemas. */
@Controller('api/tools')
@UseGuards(ApiRequestGuard)
export class ToolsController {
  constructor(private readonly services: ServicesClient) {}

  @Post()
  @HttpCode(201)
  create(@RequestScope() scope: Scope, @Body(toolBody) body: Record<string, unknown>) {
    return this.services.tools('create', { scope, body });
  }

  @Get()
  list(@RequestScope() scope: Scope, @Query(new ZodValidationPipe(listQuerySchema, 'query')) query: z.output<typeof listQuerySchema>) {
    return this.services.tools('list', { scope, query });
  }

  @Get(':id')
  get(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.tools('get', { scope, id });
  }

  @Put(':id')
  update(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string, @Body(toolBody) body: Record<string, unknown>) {
    return this.services.tools('update', { scope, id, body });
  }

  @Delete(':id')
  delete(@RequestScope() scope: Scope, @Param('id', UuidParamPipe) id: string) {
    return this.services.tools('delete', { scope, id });
  }
}
