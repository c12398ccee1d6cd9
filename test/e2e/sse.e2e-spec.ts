import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';
import { eventually } from '../support/eventually';

const ID = /^(\d+)(?:\.(\d+))?$/;

/** Condition plus join: several events share one log entry, so the stream has `N.i` ids. */
const branching = {
  name: 'Branching',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['check'] },
    { step_id: 'check', step_type: 'condition', parameters: { condition: "{{input.priority}} == 'high'" }, next_steps: ['hot'], else_steps: ['cold'] },
    { step_id: 'hot', step_type: 'data_transform', parameters: { mapping: { route: 'hot' } }, next_steps: ['done'] },
    { step_id: 'cold', step_type: 'data_transform', parameters: { mapping: { route: 'cold' } }, next_steps: ['done'] },
    { step_id: 'done', step_type: 'data_transform', parameters: { mapping: { ok: true } }, next_steps: [] },
  ],
};
const delayed = (seconds: number) => ({
  name: `Delayed ${seconds}s`,
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['pause'] },
    { step_id: 'pause', step_type: 'delay', parameters: { seconds }, next_steps: ['after'] },
    { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { done: true } }, next_steps: [] },
  ],
});

/** Log messages only: no `connected`, no `heartbeat` (they carry no id and are not history). */
const logged = (messages: SseMessage[]) => messages.filter((m) => m.event !== 'connected' && m.event !== 'heartbeat');
const idKey = (id: string): [number, number] => {
  const m = ID.exec(id)!;
  return [Number(m[1]), m[2] === undefined ? 0 : Number(m[2])];
};

describe('SSE stream (GET /api/executions/{id}/stream)', () => {
  let sys: InProcessSystem;
  let branchingId: string;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);
  const stream = (executionId: string, opts: Parameters<typeof readSse>[2] = {}) => readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, opts);
  async function execute(workflowId: string, trigger: Record<string, unknown> = {}): Promise<string> {
    const res = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger });
    expect(res.status).toBe(202);
    return res.body.execution_id;
  }
  async function create(definition: unknown): Promise<string> {
    const res = await api('POST', '/api/workflows', definition);
    expect(res.status).toBe(201);
    return res.body.id;
  }
  async function completedRun(): Promise<{ executionId: string; replay: SseMessage[] }> {
    const executionId = await execute(branchingId, { priority: 'high' });
    await eventually(async () => (await api('GET', `/api/executions/${executionId}`)).body.status === 'completed');
    const { status, messages } = await stream(executionId);
    expect(status).toBe(200);
    return { executionId, replay: messages };
  }

  beforeAll(async () => {
    sys = await InProcessSystem.start();
    branchingId = await create(branching);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('a subscriber arriving after completion gets connected, the whole history, then complete, and the stream ends', async () => {
    const { executionId, replay } = await completedRun();
    expect(replay[0]).toEqual({ event: 'connected', data: { execution_id: executionId, timestamp: expect.any(String) } });
    expect(replay[0]!.id).toBeUndefined();
    const history = logged(replay);
    expect(history.length).toBe(replay.length - 1);
    expect(history[0]).toMatchObject({ event: 'status', data: { status: 'running' } });
    expect(history.at(-1)).toMatchObject({ event: 'complete', data: { status: 'completed', result: { ok: true } } });
    expect(history.filter((m) => m.event === 'complete')).toHaveLength(1);
    // Every step, the trigger included, has a start and a completion; the branch not taken is skipped.
    for (const step of ['trigger', 'check', 'hot', 'done']) {
      expect(history.filter((m) => m.event === 'step_start' && m.data.step === step)).toHaveLength(1);
      expect(history.filter((m) => m.event === 'step_complete' && m.data.step === step).map((m) => m.data.status)).toEqual(['completed']);
    }
    expect(history.filter((m) => m.event === 'step_complete' && m.data.step === 'cold').map((m) => m.data.status)).toEqual(['skipped']);
    for (const m of replay) {
      expect(m.data.execution_id).toBe(executionId);
      expect(Number.isNaN(Date.parse(m.data.timestamp))).toBe(false);
    }
    // A second late subscriber sees exactly the same thing.
    const again = await stream(executionId);
    expect(logged(again.messages)).toEqual(history);
  });

  it('ids are stream sequences ("N" or "N.i"), strictly increasing', async () => {
    const { replay } = await completedRun();
    const ids = logged(replay).map((m) => m.id);
    for (const id of ids) expect(id).toMatch(ID);
    for (let i = 1; i < ids.length; i++) {
      const [a, b] = [idKey(ids[i - 1]!), idKey(ids[i]!)];
      expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])).toBe(true);
    }
    // Several events appended at once share a sequence and get sub-indexes.
    expect(ids.some((id) => id!.includes('.'))).toBe(true);
  });

  it('Last-Event-ID resumes with exactly the tail of the full replay, from any id', async () => {
    const { executionId, replay } = await completedRun();
    const history = logged(replay);
    expect(history.length).toBeGreaterThan(4);
    // Every id before `complete`, the middle ones included (sub-indexed ids among them).
    for (let k = 0; k < history.length - 1; k++) {
      const resumed = await stream(executionId, { headers: { 'Last-Event-ID': history[k]!.id! } });
      expect(resumed.status).toBe(200);
      expect(resumed.messages[0]!.event).toBe('connected');
      expect([k, logged(resumed.messages)]).toEqual([k, history.slice(k + 1)]);
    }
  });

  // Resuming with the id of `complete` itself (what an EventSource does when the connection drops
  // right after it) must end the stream at once, not leave it heartbeating forever.
  it('Last-Event-ID of `complete` itself: connected, nothing else, and the stream ends', async () => {
    const { executionId, replay } = await completedRun();
    const complete = logged(replay).at(-1)!;
    expect(complete.event).toBe('complete');
    const resumed = await stream(executionId, { headers: { 'Last-Event-ID': complete.id! }, timeoutMs: 3_000 });
    expect(resumed.status).toBe(200);
    expect(resumed.messages[0]!.event).toBe('connected');
    expect(logged(resumed.messages)).toEqual([]);
  });

  it('accepts ?access_token= (the EventSource way) alongside the scope headers', async () => {
    const { executionId, replay } = await completedRun();
    const viaQuery = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream?access_token=some-token`);
    expect(viaQuery.status).toBe(200);
    expect(logged(viaQuery.messages)).toEqual(logged(replay));
  });

  it('an unknown execution is a JSON 404 NOT_FOUND before any SSE byte', async () => {
    const res = await api('GET', '/api/executions/00000000-0000-4000-8000-000000000000/stream', undefined, { ...SCOPE_HEADERS, accept: 'text/event-stream' });
    expect(res.status).toBe(404);
    expect(String(res.headers['content-type'])).toMatch(/application\/json/);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(res.text).not.toContain('event:');
  });

  it('a run sitting in a delay gets heartbeats (no id, execution_id and timestamp)', async () => {
    const workflowId = await create(delayed(2));
    const executionId = await execute(workflowId);
    const { messages } = await stream(executionId, { until: (m) => m.event === 'heartbeat' });
    const heartbeat = messages.at(-1)!;
    expect(heartbeat.event).toBe('heartbeat');
    expect(heartbeat.id).toBeUndefined();
    expect(heartbeat.data).toEqual({ execution_id: executionId, timestamp: expect.any(String) });
    // The delay had not finished when the heartbeat came.
    expect(messages.some((m) => m.event === 'complete')).toBe(false);
  });

  it('a live subscriber connected while a delay is pending sees every event exactly once', async () => {
    const workflowId = await create(delayed(1.5));
    const executionId = await execute(workflowId);
    await eventually(async () => {
      const e = (await api('GET', `/api/executions/${executionId}`)).body;
      return e.steps.find((s: { step_id: string }) => s.step_id === 'pause')?.status === 'running';
    });
    const live = await stream(executionId);
    expect(live.messages[0]!.event).toBe('connected');
    const liveHistory = logged(live.messages);
    expect(liveHistory.at(-1)).toMatchObject({ event: 'complete', data: { status: 'completed', result: { done: true } } });
    const ids = liveHistory.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(liveHistory.filter((m) => m.event === 'step_complete' && m.data.step === 'pause')).toHaveLength(1);
    expect(liveHistory.find((m) => m.event === 'step_complete' && m.data.step === 'pause')!.data.result.waited_ms).toBeGreaterThanOrEqual(1500);
    // The same as what a late subscriber replays: no gap and no duplicate between history and live.
    const replay = await stream(executionId);
    expect(liveHistory).toEqual(logged(replay.messages));
  });
});

describe('SSE with AUTH_MODE=token', () => {
  let sys: InProcessSystem;
  let executionId: string;
  const bearer = { ...SCOPE_HEADERS, Authorization: 'Bearer good-token' };

  beforeAll(async () => {
    sys = await InProcessSystem.start({ AUTH_MODE: 'token', AUTH_TOKENS: 'good-token' });
    const wf = await http(sys.baseUrl, 'POST', '/api/workflows', { name: 'T', steps: [{ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: [] }] }, bearer);
    expect(wf.status).toBe(201);
    const exec = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, bearer);
    expect(exec.status).toBe(202);
    executionId = exec.body.execution_id;
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('streams with ?access_token= or a Bearer header, and refuses a missing or wrong token with 401', async () => {
    const viaQuery = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream?access_token=good-token`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.messages.at(-1)).toMatchObject({ event: 'complete', data: { status: 'completed' } });
    const viaHeader = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers: { Authorization: 'Bearer good-token' } });
    expect(logged(viaHeader.messages)).toEqual(logged(viaQuery.messages));

    for (const path of [`/api/executions/${executionId}/stream`, `/api/executions/${executionId}/stream?access_token=bad-token`]) {
      const res = await http(sys.baseUrl, 'GET', path, undefined, { ...SCOPE_HEADERS, accept: 'text/event-stream' });
      expect([path, res.status, res.body?.error?.code]).toEqual([path, 401, 'UNAUTHORIZED']);
    }
  });
});
