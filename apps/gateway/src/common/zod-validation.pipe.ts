import { Injectable, type PipeTransform } from '@nestjs/common';
import { JetflowError } from '@jetflow/contracts';
import type { z } from 'zod';

/** Parses a body or query with a zod schema; problems become one VALIDATION_ERROR with details. */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    private readonly what: string,
  ) {}

  transform(value: unknown): z.output<S> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new JetflowError(
      'VALIDATION_ERROR',
      `Invalid ${this.what}`,
      parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || this.what, message: issue.message })),
    );
  }
}
