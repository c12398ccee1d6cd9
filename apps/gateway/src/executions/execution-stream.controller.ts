import { Controller, Get, Headers, Param, Query, Res, UseGuards } from '@nestjs/common';
import { JetflowError, type Scope } from '@jetflow/contracts';
import type { FastifyReply } from 'fastify';
import { ApiRequestGuard } from '../common/api-request.guard';
import { RequestScope } from '../common/request-scope.decorator';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ServicesClient } from '../rpc/services.client';
import { ExecutionStreamer } from './execution-streamer';
import { parseLastEventId, type SsePosition } from './sse-event.mapper';

/** `GET /api/executions/:id/stream`: the execution's log as Server-Sent Events. */
@Controller('api/executions')
@UseGuards(ApiRequestGuard)
export class ExecutionStreamController {
  constructor(
    private readonly services: ServicesClient,
    private readonly streamer: ExecutionStreamer,
  ) {}

  @Get(':id/stream')
  async stream(
    @RequestScope() scope: Scope,
    @Param('id', UuidParamPipe) id: string,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Query('last_event_id') lastEventIdQuery: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const after = resumePosition(lastEventIdHeader ?? (typeof lastEventIdQuery === 'string' ? lastEventIdQuery : undefined));
    // Checked before any SSE byte, so an unknown execution is a plain JSON 404 (and an id past
    // the end of a running run's log a JSON 400).
    await this.services.executions('authorize', { scope, id });
    if (after && (await this.streamer.resumeFrom(id, after)) === 'ended') {
      // The client has seen `complete`: nothing will follow, so no stream stays open heartbeating.
      this.streamer.ended(id, reply);
      return;
    }
    this.streamer.stream(id, after, reply);
  }
}

function resumePosition(value: string | undefined): SsePosition | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const position = parseLastEventId(value);
  if (!position) {
    throw new JetflowError('VALIDATION_ERROR', 'Invalid Last-Event-ID', [{ path: 'Last-Event-ID', message: 'expected an id from this stream, e.g. "4183" or "4183.1"' }]);
  }
  return position;
}
