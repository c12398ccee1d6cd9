import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { isErrorCode, type ErrorBody, type ErrorCode, type ErrorDetail } from '@jetflow/contracts';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { codeForHttpStatus, httpStatusForCode } from './error-status';

export interface HttpError {
  readonly status: number;
  readonly body: { readonly error: ErrorBody };
}

/** Messages for the framework's own request errors (fastify codes), worded for API users. */
const FRAMEWORK_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'Malformed JSON body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Empty JSON body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type: send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
};

/**
 * The only place an error becomes an HTTP answer: a coded error keeps its code, a framework 4xx
 * gets a client code, anything else is a 500 `INTERNAL` whose text never leaves the server.
 */
export function toHttpError(exception: unknown): HttpError {
  const coded = asCoded(exception);
  if (coded) return { status: httpStatusForCode(coded.code), body: { error: coded } };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = codeForHttpStatus(status);
    if (status >= 500) return internal();
    const fastifyCode = (exception.cause as { code?: unknown } | undefined)?.code;
    const message = (typeof fastifyCode === 'string' && FRAMEWORK_MESSAGES[fastifyCode]) || httpMessage(exception);
    return { status, body: { error: { code, message } } };
  }
  return internal();
}

function internal(): HttpError {
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'Internal error' } } };
}

/** JetflowError or anything shaped like one (e.g. a reply error from another copy of contracts). */
function asCoded(err: unknown): ErrorBody | null {
  if (!err || typeof err !== 'object' || err instanceof HttpException) return null;
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  if (!isErrorCode(e.code)) return null;
  const details = Array.isArray(e.details) && e.details.length > 0 ? (e.details as ErrorDetail[]) : undefined;
  return { code: e.code as ErrorCode, message: typeof e.message === 'string' && e.message ? e.message : e.code, ...(details ? { details } : {}) };
}

function httpMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.join('; ');
  return exception.message;
}

@Catch()
export class JetflowExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body } = toHttpError(exception);
    if (status >= 500) this.logger.error({ err: exception }, 'request failed');
    // A hijacked (SSE) reply has already sent its headers: nothing can be answered any more.
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
