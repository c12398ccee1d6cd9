import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyReply } from 'fastify';
import { HEALTH_CHECK, NATS_CONNECTION, type HealthCheck } from '../gateway.tokens';

const PROBE_TIMEOUT_MS = 2_000;

/** `GET /health`: 200 when NATS answers a flush and the database check passes, else 503. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(HEALTH_CHECK) private readonly healthCheck: HealthCheck,
  ) {}

  @Get()
  async health(@Res() reply: FastifyReply): Promise<void> {
    const [nats, postgres] = await Promise.all([probe(() => this.natsOk()), probe(this.healthCheck)]);
    const ok = nats && postgres;
    const body = {
      status: ok ? 'ok' : 'unavailable',
      nats: nats ? 'ok' : 'down',
      postgres: postgres ? 'ok' : 'down',
      ...(ok ? {} : { error: { code: 'UNAVAILABLE', message: 'A dependency is unavailable' } }),
    };
    void reply.status(ok ? 200 : 503).header('cache-control', 'no-store').send(body);
  }

  private async natsOk(): Promise<boolean> {
    if (this.nc.isClosed()) return false;
    await this.nc.flush();
    return true;
  }
}

/** A check that throws or hangs counts as down. */
async function probe(check: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check().then((v) => v === true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
