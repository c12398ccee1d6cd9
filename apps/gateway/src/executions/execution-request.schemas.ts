import { EXECUTION_STATUSES, type ExecuteBody } from '@jetflow/contracts';
import { z } from 'zod';
import { cursorParam, limitParam } from '../common/list-query.schema';
import { isUuid } from '../common/uuid-param.pipe';

const jsonObject = z.record(z.string(), z.unknown(), { message: 'expected an object' });
const optionalString = z
  .string({ message: 'expected a string' })
  .nullish()
  .transform((v) => v ?? undefined);

/** The guide's execute body; an absent body is an empty one, unknown fields are ignored. */
export const executeBodySchema = z.preprocess(
  (v) => (v === undefined ? {} : v),
  z.object(
    {
      trigger: jsonObject.optional(),
      user_id: optionalString,
      session_id: optionalString,
      context: jsonObject.optional(),
    },
    { message: 'expected a JSON object body' },
  ),
).transform((b): ExecuteBody => ({
  ...(b.trigger !== undefined ? { trigger: b.trigger } : {}),
  ...(b.user_id !== undefined ? { user_id: b.user_id } : {}),
  ...(b.session_id !== undefined ? { session_id: b.session_id } : {}),
  ...(b.context !== undefined ? { context: b.context } : {}),
}));

export const executionListQuerySchema = z.object({
  workflow_id: z.string().refine(isUuid, 'expected a workflow id (UUID)').optional(),
  status: z.enum(EXECUTION_STATUSES, { message: `expected one of ${EXECUTION_STATUSES.join(', ')}` }).optional(),
  limit: limitParam,
  cursor: cursorParam,
});

export const eventsQuerySchema = z.object({
  // A stream sequence is a uint64 on the server, but ids past 2^53 - 1 cannot be numbers here.
  from_seq: z
    .string()
    .regex(/^\d+$/, 'expected a non-negative integer')
    .transform(Number)
    .refine((n) => n <= Number.MAX_SAFE_INTEGER, `at most ${Number.MAX_SAFE_INTEGER}`)
    .optional(),
  limit: limitParam,
});

export const idempotencyKeySchema = z.string().trim().min(1).max(255, 'at most 255 characters').optional();

export const chatMessageBodySchema = z
  .object({
    content: z.string().max(100_000, 'at most 100000 characters').optional(),
    end: z.boolean().optional(),
    message_id: z.string().trim().min(1).max(255).optional(),
  })
  .refine((b) => b.end === true || (typeof b.content === 'string' && b.content.length > 0), { message: 'content is required (a non-empty string) unless end is true', path: ['content'] });
