import type { FastifyInstance, FastifyRequest } from 'fastify';

/** A request whose JSON body was parsed here: `rawBody` holds the exact bytes (webhook signatures). */
export type RawBodyRequest = FastifyRequest & { rawBody?: Buffer };

/**
 * JSON is the only body the API takes: any other content type is a 415. An empty body with a JSON
 * content type counts as no body (clients often send the header on bodiless POSTs).
 */
export function installJsonBodyParser(fastify: FastifyInstance, bodyLimit: number): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    (request as RawBodyRequest).rawBody = body as Buffer;
    if ((body as Buffer).length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as unknown as string, done);
  });
}
