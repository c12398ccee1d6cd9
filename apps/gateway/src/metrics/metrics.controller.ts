import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { register } from 'prom-client';

/** `GET /metrics`: prom-client's default registry in the text exposition format. */
@Controller('metrics')
export class MetricsController {
  @Get()
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    const text = await register.metrics();
    void reply.status(200).header('content-type', register.contentType).send(text);
  }
}
