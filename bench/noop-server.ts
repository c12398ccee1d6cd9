/** W0: a no-op route on the gateway's HTTP stack (Nest 12 + Fastify), in its own process. */
import 'reflect-metadata';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

@Controller('api')
class NoopController {
  @Get('noop')
  get(): { ok: boolean } {
    return { ok: true };
  }
  @Post('noop')
  post(): { ok: boolean } {
    return { ok: true };
  }
}

@Module({ controllers: [NoopController] })
class NoopModule {}

async function main() {
  const app = await NestFactory.create<NestFastifyApplication>(NoopModule, new FastifyAdapter(), { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}
void main();
