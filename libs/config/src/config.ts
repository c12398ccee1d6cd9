import { z } from 'zod';

/** Service names the all-in-one entry can host (`SERVICES`). */
export const SERVICE_NAMES = ['gateway', 'workflows', 'executions', 'steps', 'approvals'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type AuthMode = 'dev' | 'token';

/** Typed, validated configuration: built once at boot by `loadConfig` and injected everywhere. */
export interface Config {
  /** `NATS_URL` as given. */
  readonly natsUrl: string;
  /** `NATS_URL` split on commas: the servers to pass to `connect({servers})`. */
  readonly natsServers: readonly string[];
  readonly databaseUrl: string;
  readonly port: number;
  readonly host: string;
  /** `METRICS_PORT`: a process without the gateway serves `/metrics` on this port (on `HOST`); null: it serves none. */
  readonly metricsPort: number | null;
  readonly heartbeatMs: number;
  readonly logLevel: LogLevel;
  /** `dev` accepts any bearer token (or none); `token` accepts only `tokens`. */
  readonly authMode: AuthMode;
  readonly authTokens: readonly string[];
  readonly streamReplicas: number;
  /** Prefix for JetStream stream names (empty by default), e.g. to isolate tests. */
  readonly streamPrefix: string;
  /** `STREAM_DUPLICATE_WINDOW_SECONDS`: how long the streams drop a retried publish (same `Nats-Msg-Id`); default 30. */
  readonly streamDuplicateWindowSeconds: number;
  readonly services: readonly ServiceName[];
  readonly stepsConcurrency: number;
  /** A steps worker takes tasks from an executions host in the same process without the work queue. */
  readonly stepsLocalDispatch: boolean;
  readonly bodyLimitBytes: number;
  readonly rpcTimeoutMs: number;
  /** Whether `api_call` steps may reach private / loopback addresses. */
  readonly apiCallAllowPrivate: boolean;
  /** `API_CALL_ALLOW_HOSTS`: when non-empty, outbound calls may only reach these hosts (`*.example.com` allowed). */
  readonly apiCallAllowHosts: readonly string[];
  /** `API_CALL_DENY_HOSTS`: hosts (or IPs / CIDRs) outbound calls never reach. */
  readonly apiCallDenyHosts: readonly string[];
  /** `API_CALL_MAX_RESPONSE_BYTES`: largest response body an api_call / HTTP tool reads. */
  readonly apiCallMaxResponseBytes: number;
  /** `SECRETS`: name → value, for templates and tool credentials; every organization and project may name them. */
  readonly secrets: Readonly<Record<string, string>>;
  /**
   * `SCOPED_SECRETS`: `<organization>/<project>` or `<organization>/*` → (name → value): secrets only
   * runs of that project (or organization) may name; they win over `SECRETS` of the same name.
   */
  readonly scopedSecrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** `OPENAI_API_KEY`: the model key for agents that name no `api_key_secret`. */
  readonly openaiApiKey?: string;
  /** `OPENAI_BASE_URL`: OpenAI-compatible endpoint for agents that name no `base_url`. */
  readonly openaiBaseUrl?: string;
  /** `SCHEDULE_CATCH_UP`: ticks missed while nothing ran get one catch-up run (default true). */
  readonly scheduleCatchUp: boolean;
  /** `SCHEDULE_REFRESH_MS`: how often the scheduler re-reads the active schedules (default 5000). */
  readonly scheduleRefreshMs: number;
}

/** Thrown by `loadConfig`; `problems` lists every bad variable, not only the first. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly { readonly variable: string; readonly message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** An unset or blank variable takes its default. */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const natsUrl = z
  .string()
  .trim()
  .refine((v) => list(v).length > 0 && list(v).every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u) || /^[\w.-]+:\d+$/.test(u)), {
    message: 'expected nats://host:port (comma-separated list allowed)',
  });

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => /^postgres(ql)?:\/\/\S+$/.test(v), { message: 'expected postgres://user@host:port/db' });

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const services = z
  .string()
  .transform(list)
  .pipe(
    z.array(z.enum(['all', ...SERVICE_NAMES], { message: `expected "all" or a comma list of ${SERVICE_NAMES.join(', ')}` })).min(1, 'expected at least one service'),
  )
  .transform((names): ServiceName[] => (names.includes('all') ? [...SERVICE_NAMES] : [...new Set(names as ServiceName[])]));

/** A variable holding JSON, parsed, then checked by `shape`; `expected` describes it in errors. */
const json = <T extends z.ZodTypeAny>(expected: string, shape: T) =>
  z
    .string()
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}` });
        return z.NEVER;
      }
    })
    .pipe(shape);

const SECRETS_SHAPE = 'a JSON object of name → string value';
const secrets = json(SECRETS_SHAPE, z.record(z.string(), z.string(), { message: `expected ${SECRETS_SHAPE}` }));

/** `<organization>/<project>` or `<organization>/*` (no slash or space inside either part). */
const SCOPE_KEY = /^[^/\s]+\/[^/\s]+$/;

const SCOPED_SHAPE = 'a JSON object of "organization/project" (or "organization/*") → {name: value}';
const scopedSecrets = json(
  SCOPED_SHAPE,
  z.record(
    z.string().regex(SCOPE_KEY, 'keys must be "organization/project" or "organization/*"'),
    z.record(z.string(), z.string(), { message: 'each scope maps secret names to string values' }),
    { message: `expected ${SCOPED_SHAPE}` },
  ),
);

const schema = z
  .object({
    NATS_URL: optional(natsUrl),
    DATABASE_URL: optional(postgresUrl),
    PORT: optional(integer(0, 65535)),
    METRICS_PORT: optional(integer(0, 65535)),
    HOST: optional(z.string().trim()),
    HEARTBEAT_MS: optional(integer(100, 3_600_000)),
    LOG_LEVEL: optional(z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }))),
    AUTH_MODE: optional(z.string().trim().toLowerCase().pipe(z.enum(['dev', 'token'], { message: 'expected dev or token' }))),
    AUTH_TOKENS: optional(z.string().transform(list)),
    STREAM_REPLICAS: optional(integer(1, 5)),
    STREAM_PREFIX: optional(z.string().trim().regex(/^[A-Za-z0-9_-]*$/, 'expected letters, digits, _ or - only')),
    STREAM_DUPLICATE_WINDOW_SECONDS: optional(integer(1, 86_400)),
    SERVICES: optional(services),
    STEPS_CONCURRENCY: optional(integer(1, 10_000)),
    STEPS_LOCAL_DISPATCH: optional(bool),
    BODY_LIMIT_BYTES: optional(integer(1024, 1024 * 1024 * 1024)),
    RPC_TIMEOUT_MS: optional(integer(1, 600_000)),
    API_CALL_ALLOW_PRIVATE: optional(bool),
    API_CALL_ALLOW_HOSTS: optional(z.string().transform((v) => list(v).map((h) => h.toLowerCase()))),
    API_CALL_DENY_HOSTS: optional(z.string().transform((v) => list(v).map((h) => h.toLowerCase()))),
    API_CALL_MAX_RESPONSE_BYTES: optional(integer(1, 1024 * 1024 * 1024)),
    SECRETS: optional(secrets),
    SCOPED_SECRETS: optional(scopedSecrets),
    OPENAI_API_KEY: optional(z.string().trim()),
    OPENAI_BASE_URL: optional(z.string().trim().regex(/^https?:\/\/\S+$/, 'expected an http(s) URL')),
    SCHEDULE_CATCH_UP: optional(bool),
    SCHEDULE_REFRESH_MS: optional(integer(100, 3_600_000)),
  });

/**
 * Validates the environment once at boot into a typed `Config`.
 * Throws `ConfigError` naming every bad variable. Nothing else in the codebase reads `process.env`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const raw = pick(env);
  const parsed = schema.safeParse(raw);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? 'environment'), message: issue.message }));
  // Cross-field rule checked on the raw values, so it is reported together with every other problem.
  if (raw.AUTH_MODE?.trim().toLowerCase() === 'token' && list(raw.AUTH_TOKENS ?? '').length === 0) {
    problems.push({ variable: 'AUTH_TOKENS', message: 'required (a comma list of tokens) when AUTH_MODE=token' });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const natsUrlValue = e.NATS_URL ?? 'nats://127.0.0.1:4222';
  return {
    natsUrl: natsUrlValue,
    natsServers: list(natsUrlValue),
    databaseUrl: e.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/jetflow',
    port: e.PORT ?? 3000,
    host: e.HOST ?? '0.0.0.0',
    metricsPort: e.METRICS_PORT ?? null,
    heartbeatMs: e.HEARTBEAT_MS ?? 30_000,
    logLevel: e.LOG_LEVEL ?? 'info',
    authMode: e.AUTH_MODE ?? 'dev',
    authTokens: e.AUTH_TOKENS ?? [],
    streamReplicas: e.STREAM_REPLICAS ?? 1,
    streamPrefix: e.STREAM_PREFIX ?? '',
    streamDuplicateWindowSeconds: e.STREAM_DUPLICATE_WINDOW_SECONDS ?? 30,
    services: e.SERVICES ?? [...SERVICE_NAMES],
    stepsConcurrency: e.STEPS_CONCURRENCY ?? 64,
    stepsLocalDispatch: e.STEPS_LOCAL_DISPATCH ?? true,
    bodyLimitBytes: e.BODY_LIMIT_BYTES ?? 1_048_576,
    rpcTimeoutMs: e.RPC_TIMEOUT_MS ?? 10_000,
    apiCallAllowPrivate: e.API_CALL_ALLOW_PRIVATE ?? true,
    apiCallAllowHosts: e.API_CALL_ALLOW_HOSTS ?? [],
    apiCallDenyHosts: e.API_CALL_DENY_HOSTS ?? [],
    apiCallMaxResponseBytes: e.API_CALL_MAX_RESPONSE_BYTES ?? 1_048_576,
    secrets: e.SECRETS ?? {},
    scopedSecrets: e.SCOPED_SECRETS ?? {},
    ...(e.OPENAI_API_KEY ? { openaiApiKey: e.OPENAI_API_KEY } : {}),
    ...(e.OPENAI_BASE_URL ? { openaiBaseUrl: e.OPENAI_BASE_URL } : {}),
    scheduleCatchUp: e.SCHEDULE_CATCH_UP ?? true,
    scheduleRefreshMs: e.SCHEDULE_REFRESH_MS ?? 5_000,
  };
}

const KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

/** Only our variables go through the schema (the rest of the environment is not our business). */
function pick(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of KEYS) out[key] = env[key];
  return out;
}
