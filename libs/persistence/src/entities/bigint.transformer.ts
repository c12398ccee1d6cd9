import type { ValueTransformer } from 'typeorm';

/** pg returns int8 as string; stream sequences stay far below 2^53, so numbers are safe. */
export const bigintTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
