import { ConfigError, loadConfig, SERVICE_NAMES } from './config';

describe('loadConfig', () => {
  it('applies every default to an empty environment', () => {
    expect(loadConfig({})).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      natsServers: ['nats://127.0.0.1:4222'],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/jetflow',
      port: 3000,
      host: '0.0.0.0',
      metricsPort: null,
      heartbeatMs: 30_000,
      logLevel: 'info',
      authMode: 'dev',
      authTokens: [],
      streamReplicas: 1,
      streamPrefix: '',
      streamDuplicateWindowSeconds: 30,
      services: [...SERVICE_NAMES],
      stepsConcurrency: 64,
      stepsLocalDispatch: true,
      bodyLimitBytes: 1_048_576,
      rpcTimeoutMs: 10_000,
      apiCallAllowPrivate: true,
      apiCallAllowHosts: [],
      apiCallDenyHosts: [],
      apiCallMaxResponseBytes: 1_048_576,
      secrets: {},
      scopedSecrets: {},
      scheduleCatchUp: true,
      scheduleRefreshMs: 5_000,
    });
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '  ' })).toMatchObject({ port: 3000, logLevel: 'info' });
  });

  it('parses every variable', () => {
    const config = loadConfig({
      NATS_URL: 'nats://a:4222, nats://b:4222,nats://c:4222',
      DATABASE_URL: 'postgresql://u:p@db:5432/x',
      PORT: '8080',
      HOST: '127.0.0.1',
      METRICS_PORT: '9464',
      HEARTBEAT_MS: '500',
      LOG_LEVEL: 'DEBUG',
      AUTH_MODE: 'token',
      AUTH_TOKENS: 'one, two',
      STREAM_REPLICAS: '3',
      STREAM_PREFIX: 'test_1',
      STREAM_DUPLICATE_WINDOW_SECONDS: '45',
      SERVICES: 'gateway,executions',
      STEPS_CONCURRENCY: '8',
      STEPS_LOCAL_DISPATCH: 'false',
      BODY_LIMIT_BYTES: '2048',
      RPC_TIMEOUT_MS: '250',
      API_CALL_ALLOW_PRIVATE: 'false',
      API_CALL_ALLOW_HOSTS: 'api.example.com, *.Partner.io',
      API_CALL_DENY_HOSTS: 'evil.example.com,10.1.0.0/16',
      API_CALL_MAX_RESPONSE_BYTES: '4096',
      SECRETS: '{"OPENAI_API_KEY":"sk-1"}',
      UNRELATED: 'ignored',
    });
    expect(config).toEqual({
      natsUrl: 'nats://a:4222, nats://b:4222,nats://c:4222',
      natsServers: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'],
      databaseUrl: 'postgresql://u:p@db:5432/x',
      port: 8080,
      host: '127.0.0.1',
      metricsPort: 9464,
      heartbeatMs: 500,
      logLevel: 'debug',
      authMode: 'token',
      authTokens: ['one', 'two'],
      streamReplicas: 3,
      streamPrefix: 'test_1',
      streamDuplicateWindowSeconds: 45,
      services: ['gateway', 'executions'],
      stepsConcurrency: 8,
      stepsLocalDispatch: false,
      bodyLimitBytes: 2048,
      rpcTimeoutMs: 250,
      apiCallAllowPrivate: false,
      apiCallAllowHosts: ['api.example.com', '*.partner.io'],
      apiCallDenyHosts: ['evil.example.com', '10.1.0.0/16'],
      apiCallMaxResponseBytes: 4096,
      secrets: { OPENAI_API_KEY: 'sk-1' },
      scopedSecrets: {},
      scheduleCatchUp: true,
      scheduleRefreshMs: 5_000,
    });
  });

  it('expands SERVICES=all', () => {
    expect(loadConfig({ SERVICES: 'all' }).services).toEqual([...SERVICE_NAMES]);
  });

  it('lists every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        NATS_URL: 'http://x',
        PORT: 'abc',
        LOG_LEVEL: 'loud',
        AUTH_MODE: 'token',
        SERVICES: 'gateway,web',
        API_CALL_ALLOW_PRIVATE: 'maybe',
        SECRETS: '[1,2]',
        HEARTBEAT_MS: '-5',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = (error as ConfigError).problems.map((p) => p.variable).sort();
    expect(variables).toEqual(
      ['API_CALL_ALLOW_PRIVATE', 'AUTH_TOKENS', 'HEARTBEAT_MS', 'LOG_LEVEL', 'NATS_URL', 'PORT', 'SECRETS', 'SERVICES'].sort(),
    );
    expect((error as Error).message).toContain('PORT:');
    expect((error as Error).message).toContain('AUTH_TOKENS: required');
  });

  it('rejects malformed SECRETS JSON and non-string secret values', () => {
    expect(() => loadConfig({ SECRETS: '{nope' })).toThrow(/SECRETS/);
    expect(() => loadConfig({ SECRETS: '{"a":1}' })).toThrow(/SECRETS/);
  });

  it('parses SCOPED_SECRETS per "organization/project" or "organization/*" and rejects other keys or values', () => {
    expect(loadConfig({ SCOPED_SECRETS: '{"org-a/proj-1":{"TOKEN":"t1"},"org-a/*":{"SHARED":"s"}}' }).scopedSecrets).toEqual({ 'org-a/proj-1': { TOKEN: 't1' }, 'org-a/*': { SHARED: 's' } });
    for (const bad of ['{"org-a":{"T":"x"}}', '{"a/b/c":{"T":"x"}}', '{"org a/p":{"T":"x"}}', '{"o/p":{"T":1}}', '{"o/p":"x"}', 'nope']) {
      expect(() => loadConfig({ SCOPED_SECRETS: bad })).toThrow(/SCOPED_SECRETS/);
    }
  });

  it('rejects out-of-range numbers', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT: must be at most 65535/);
    expect(() => loadConfig({ STREAM_REPLICAS: '0' })).toThrow(/STREAM_REPLICAS/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT: must be at most 65535/);
  });

  it('requires AUTH_TOKENS only in token mode', () => {
    expect(loadConfig({ AUTH_MODE: 'dev' }).authMode).toBe('dev');
    expect(() => loadConfig({ AUTH_MODE: 'token', AUTH_TOKENS: ' , ' })).toThrow(/AUTH_TOKENS/);
  });
});
