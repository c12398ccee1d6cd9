import { show } from '../validation/value.checks';

/**
 * Time limits of the engine. Every durable timer's `fire_at` is computed here, so that no
 * decision ever builds an invalid `Date` (whose `toISOString()` throws a RangeError and would make
 * the command fail on every redelivery).
 *
 * One cap for every duration a definition or its data can ask for (a delay's `seconds` or
 * `until`, a step's or the workflow's `timeout_seconds`, an approval's `timeout_hours`, a retry
 * policy's `backoff_seconds`): **366 days**. The workflow validator rejects literal values beyond
 * it; at run time a value beyond it (from a template, or a definition stored before the check)
 * fails the step (or the run) with VALIDATION_ERROR instead of scheduling anything.
 */
export const MAX_DURATION_SECONDS = 366 * 24 * 60 * 60;

/** `MAX_DURATION_SECONDS` in hours: the largest approval `timeout_hours`. */
export const MAX_DURATION_HOURS = MAX_DURATION_SECONDS / 3600;

/**
 * Longest wait a failed attempt's `retry_after_seconds` (an outside server's Retry-After, or a
 * model API's) can impose: one day. Larger (or infinite) hints are clamped to it, not failed: the
 * server is not the workflow author. A retry policy's own exponential backoff is clamped at
 * `MAX_DURATION_SECONDS` (with `max_attempts` up to 100 it would otherwise grow to 2^99 seconds).
 */
export const MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60;

/** Human form of the cap for messages. */
export const MAX_DURATION_TEXT = `${MAX_DURATION_SECONDS} seconds (366 days)`;

/** Largest time value a JavaScript Date holds (±8.64e15 ms around the epoch). */
const MAX_DATE_MS = 8.64e15;

/**
 * `iso` plus `seconds`, as an ISO string. Total: the seconds are clamped into
 * [0, MAX_DURATION_SECONDS] (NaN counts as 0), and an unreadable `iso` counts as the epoch.
 * Callers check durations first and fail what is out of range; the clamp is the last guard.
 */
export function addSeconds(iso: string, seconds: number): string {
  const base = Date.parse(iso);
  const s = Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), MAX_DURATION_SECONDS) : seconds === Number.POSITIVE_INFINITY ? MAX_DURATION_SECONDS : 0;
  return isoOf((Number.isFinite(base) ? base : 0) + Math.round(s * 1000));
}

/** A time value as an ISO string; an unrepresentable one becomes the epoch (never throws). */
export function isoOf(ms: number): string {
  return new Date(Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? ms : 0).toISOString();
}

/** A duration limit check's outcome: the seconds, or why the value is not a usable duration. */
export type DurationCheck = { readonly ok: true; readonly seconds: number } | { readonly ok: false; readonly reason: string };

/**
 * Reads a duration in seconds: a finite number, or a string holding one (`"5"`, `" 1.5 "`), from 0
 * to `max` inclusive. `name` is used in the reason.
 */
export function readSeconds(value: unknown, name: string, max = MAX_DURATION_SECONDS): DurationCheck {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && DECIMAL.test(value.trim())) n = Number(value.trim());
  if (n === undefined || !Number.isFinite(n)) return { ok: false, reason: `${name} must be a number of seconds, got ${describe(value)}` };
  if (n < 0) return { ok: false, reason: `${name} must be >= 0, got ${describe(value)}` };
  if (n > max) return { ok: false, reason: `${name} must be at most ${max} seconds (${Math.round((max / 86400) * 100) / 100} days), got ${describe(value)}` };
  return { ok: true, seconds: n };
}

/** A plain decimal number (no hex, no "Infinity"): `5`, `-1`, `1.5`, `.5`, `2e3`. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** The time value of an ISO 8601 date or date-time string (`2030-01-15`, `2030-01-15T10:00:00Z`), else undefined. */
export function parseIsoDate(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A value inside a reason (as the validator shows it; a missing one is "nothing"). */
function describe(value: unknown): string {
  return value === undefined ? 'nothing' : show(value);
}
