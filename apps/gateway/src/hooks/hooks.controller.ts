import { createHash } from 'node:crypto';
import { Controller, Headers, HttpCode, Param, Post, Req } from '@nestjs/common';
import { JetflowError } from '@jetflow/contracts';
import type { RawBodyRequest } from '../common/json-body.parser';
import { UuidParamPipe } from '../common/uuid-param.pipe';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { idempotencyKeySchema } from '../executions/execution-request.schemas';
import { ServicesClient } from '../rpc/services.client';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from './webhook-signature';

/**
 * Delivery ids senders put on every attempt of one event (Standard Webhooks, GitHub, a generic
 * form): without an `Idempotency-Key`, the first one present makes a redelivery (a retry after a
 * lost 202) return the same execution instead of starting a second run.
 */
export const DELIVERY_ID_HEADERS = ['webhook-id', 'x-webhook-id', 'x-github-delivery'] as const;

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
    @Headers(TIMESTAMP_HEADER) timestamp: string | undefined,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    // NOT_FOUND for anything but a webhook workflow (archived or not); CONFLICT for an archived one.
    const target = await this.services.workflows('hook-target', { id: workflowId });
    const trigger = target.definition.steps.find((s) => s.step_type === 'trigger');
    // Not a webhook workflow: answered like an unknown id, so outsiders learn nothing about it.
    if (trigger?.parameters['kind'] !== 'webhook') throw new JetflowError('NOT_FOUND', 'no webhook trigger for this workflow');
    const configured = trigger.parameters['secret'];
    const secret = typeof configured === 'string' && configured !== '' ? configured : undefined;
    const requireTimestamp = trigger.parameters['require_timestamp'] === true;
    if (secret === undefined && requireTimestamp) {
      throw new JetflowError('UNAUTHORIZED', 'this webhook requires signed requests but its trigger has no secret configured');
    }
    // Keys this route derives have their own prefixes: a client's Idempotency-Key may not take one.
    if (idempotencyKeyHeader !== undefined && /^(signed|signature|delivery):/.test(idempotencyKeyHeader)) {
      throw new JetflowError('VALIDATION_ERROR', 'Idempotency-Key may not start with "signed:", "signature:" or "delivery:" (reserved for the keys this route derives)');
    }
    const delivery = deliveryId(request, idempotencyKeyHeader);
    const signed =
      secret !== undefined
        ? verifyWebhookSignature(secret, request.rawBody ?? Buffer.alloc(0), {
            signature,
            timestamp,
            id: delivery?.value,
            requireTimestamp,
            now: Date.now() / 1000,
          })
        : undefined;
    // A timestamped signature covers the delivery id too: the key is the signed id (whichever
    // header carried it), or without one the signature itself, so a captured request cannot be
    // replayed under another key (within the tolerance; later its timestamp is refused). These
    // keys have their own prefixes: no unsigned key can take them first.
    const key = signed?.timestamped
      ? delivery
        ? `signed:${sha256Hex(Buffer.from(delivery.value, 'latin1'))}`
        : `signature:${signed.hmac}`
      : delivery?.key;
    const idempotencyKey = new ZodValidationPipe(idempotencyKeySchema, 'Idempotency-Key header').transform(key);
    return this.services.executions('start', {
      scope: target.scope,
      workflow_id: target.workflow_id,
      body: { trigger: { kind: 'webhook', body: request.body ?? null } },
      ...(idempotencyKey !== undefined ? { idempotency_key: idempotencyKey } : {}),
    });
  }
}

/**
 * The delivery's id: `Idempotency-Key` as is, else the first delivery-id header sent as
 * `delivery:<header>:<id>` (kept apart from Idempotency-Key values). `value` is the header's raw
 * value (as Node decoded its bytes: latin1), which a timestamped signature covers.
 */
function deliveryId(request: RawBodyRequest, idempotencyKey: string | undefined): { key: string; value: string } | undefined {
  if (idempotencyKey !== undefined) return { key: idempotencyKey, value: idempotencyKey };
  for (const name of DELIVERY_ID_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string' && value.trim()) return { key: deliveryKey(name, value.trim()), value };
  }
  return undefined;
}

/** `delivery:<header>:<id>`, the id hashed when the key would pass the 255-character limit (senders choose its length). */
function deliveryKey(header: string, id: string): string {
  const key = `delivery:${header}:${id}`;
  return key.length <= 255 ? key : `delivery:${header}:sha256:${sha256Hex(id)}`;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
