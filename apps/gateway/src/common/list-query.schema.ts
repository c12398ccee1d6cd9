import { z } from 'zod';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** `limit` (default 50, above 500 is capped) and an opaque `cursor`. */
export const limitParam = z
  .string()
  .regex(/^\d+$/, 'expected a positive integer')
  .transform(Number)
  .pipe(z.number().int().min(1, 'expected a positive integer'))
  .transform((n) => Math.min(n, MAX_LIMIT))
  .optional();

export const cursorParam = z.string().min(1).max(2048).optional();

export const listQuerySchema = z.object({ limit: limitParam, cursor: cursorParam });

/** A body that must be a JSON object (the services validate its contents). */
export const jsonObjectBody = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { message: 'expected a JSON object body' },
);
