import { Controller, Headers, HttpCode, Param, Post, Req } from '@nestjs/common';
import { JetflowError } from '@jetflow/contracts';
import type { RawBodyRequest } from '../common/json-body.parser';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { idempotencyKeySchema } from '../executions/execution-request.schemas';
import { ServicesClient } from '../rpc/services.client';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './webhook-signature';

/**
 * Webhook triggers: `POST /api/hooks/{workflow_id}` starts a run with `input = {kind: "webhook",
 * body: <the JSON body>}`. Callers come from outside, without scope headers or bearer token: the
 * scope is the workflow's own, and a trigger `secret` makes an HMAC signature mandatory.
 */
@Controller('api/hooks')
export class HooksController {
  constructor(private readonly services: ServicesClient) {}

  @Post(':id')
  @HttpCode(202)
  async receive(
    @Param('id', UuidParamPipe) workflowId: string,
    @Req() request: RawBodyRequest,
    @Headers(SIGNATURE_HEADER) signature: string | undefined,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    // NOT_FOUND for anything but a webhook workflow (archived or not); CONFLICT for an archived one.
    const target = await this.services.workflows('hook-target', { id: workflowId });
    const trigger = target.definition.steps.find((s) => s.step_type === 'trigger');
    // Not a webhook workflow: answered like an unknown id, so outsiders learn nothing about it.
    if (trigger?.parameters['kind'] !== 'webhook') throw new JetflowError('NOT_FOUND', 'no webhook trigger for this workflow');
    const secret = trigger.parameters['secret'];
    if (typeof secret === 'string' && secret !== '') verifyWebhookSignature(secret, request.rawBody ?? Buffer.alloc(0), signature);
    const idempotencyKey = new ZodValidationPipe(idempotencyKeySchema, 'Idempotency-Key header').transform(idempotencyKeyHeader);
    return this.services.executions('start', {
      scope: target.scope,
      workflow_id: target.workflow_id,
      body: { trigger: { kind: 'webhook', body: request.body ?? null } },
      ...(idempotencyKey !== undefined ? { idempotency_key: idempotencyKey } : {}),
    });
  }
}
