import { Injectable, type PipeTransform } from '@nestjs/common';
import { JetflowError } from '@jetflow/contracts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Ids are UUIDs: anything else names nothing, so it is a 404, not a 400. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw new JetflowError('NOT_FOUND', 'Not found');
    return value.toLowerCase();
  }
}
