import { randomUUID } from 'node:crypto';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { http, readSse } from '../support/http-client';
import { eventually } from '../support/eventually';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Scope headers of a fresh organization, so lists in a test see only that test's objects. */
function freshScope(): Record<string, string> {
  return { ...SCOPE_HEADERS, 'X-elevAIte-OrganizationId': `org-${randomUUID()}` };
}

const trigger = (next: string[]) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const transform = (id: string, mapping: Record<string, unknown>, next: string[] = []) => ({ step_id: id, step_type: 'data_transform', parameters: { mapping }, next_steps: next });
const stepStates = (body: { steps: { step_id: string; status: string }[] }) => body.steps.map((s) => [s.step_id, s.status]);

describe('guide walk-through (HTTP + SSE, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);
  /** Follows the execution's SSE stream to its end (`complete`) and returns the execution. */
  const finished = async (executionId: string, headers?: Record<string, string>) => {
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers });
    expect(messages.at(-1)?.event).toBe('complete');
    return (await api('GET', `/api/executions/${executionId}`, undefined, headers)).body;
  };

  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('creates the guide example, executes it, streams it and reads the execution', async () => {
    const wf = await api('POST', '/api/workflows', {
      name: 'Greeter',
      description: 'transform then condition',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['shape'] },
        { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { text: 'Hello {{input.current_message}}', customer: '{{context.customer_id}}' } }, next_steps: [] },
      ],
    });
    expect(wf.status).toBe(201);
    expect(wf.body).toMatchObject({ name: 'Greeter', status: 'active', version: 1 });
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, {
      trigger: { kind: 'chat', current_message: 'world', history: [] },
      user_id: 'user-123',
      session_id: 'session-456',
      context: { customer_id: 'cust-789' },
    });
    expect(exec.status).toBe(202);
    expect(exec.body).toMatchObject({ workflow_id: wf.body.id });
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${exec.body.execution_id}/stream`);
    expect(messages.map((m) => m.event)).toEqual(['connected', 'status', 'step_start', 'step_complete', 'step_start', 'step_complete', 'complete']);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { text: 'Hello world', customer: 'cust-789' } });
    const got = await api('GET', `/api/executions/${exec.body.execution_id}`);
    expect(got.body).toMatchObject({ status: 'completed', result: { text: 'Hello world' } });
    expect(stepStates(got.body)).toEqual([
      ['trigger', 'completed'],
      ['shape', 'completed'],
    ]);
  });

  it("accepts the guide's exact \"Creating a Workflow\" request and reads it back", async () => {
    const guideBody = {
      name: 'Customer Support Agent',
      description: 'Handle customer inquiries',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
        { step_id: 'agent', step_type: 'agent_execution', parameters: { agent_id: 'agent-uuid-here' }, next_steps: [] },
      ],
    };
    const created = await api('POST', '/api/workflows', guideBody, {
      'Content-Type': 'application/json',
      'X-elevAIte-UserId': 'user-123',
      'X-elevAIte-OrganizationId': 'org-xyz',
      'X-elevAIte-ProjectId': 'proj-abc',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Customer Support Agent', status: 'active', version: 1 });
    expect(created.body.id).toMatch(UUID);
    expect(new Date(created.body.created_at).toISOString()).toBe(created.body.created_at);

    const got = await api('GET', `/api/workflows/${created.body.id}`, undefined, {
      'X-elevAIte-UserId': 'user-123',
      'X-elevAIte-OrganizationId': 'org-xyz',
      'X-elevAIte-ProjectId': 'proj-abc',
    });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: created.body.id, name: guideBody.name, description: guideBody.description, status: 'active', version: 1 });
    expect(got.body.steps).toMatchObject(guideBody.steps);
  });

  it('lists workflows newest first, paginated with limit and cursor', async () => {
    const scope = freshScope();
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third']) {
      const res = await api('POST', '/api/workflows', { name, steps: [trigger([])] }, scope);
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const page1 = await api('GET', '/api/workflows?limit=2', undefined, scope);
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((w: { id: string }) => w.id)).toEqual([ids[2], ids[1]]);
    expect(page1.body.items.map((w: { name: string }) => w.name)).toEqual(['third', 'second']);
    expect(typeof page1.body.next_cursor).toBe('string');

    const page2 = await api('GET', `/api/workflows?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`, undefined, scope);
    expect(page2.status).toBe(200);
    expect(page2.body.items.map((w: { id: string }) => w.id)).toEqual([ids[0]]);
    expect(page2.body.next_cursor).toBeNull();

    const all = await api('GET', '/api/workflows', undefined, scope);
    expect(all.body.items.map((w: { id: string }) => w.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(all.body.next_cursor).toBeNull();
  });

  it('PUT makes version 2 while a running execution keeps version 1', async () => {
    const v1 = {
      name: 'Versioned',
      steps: [
        trigger(['wait']),
        { step_id: 'wait', step_type: 'delay', parameters: { seconds: 2 }, next_steps: ['mark'] },
        transform('mark', { version: 'v1' }),
      ],
    };
    const created = await api('POST', '/api/workflows', v1);
    expect(created.status).toBe(201);
    const wfId = created.body.id;
    const exec = await api('POST', `/api/workflows/${wfId}/execute`, { trigger: {} });
    expect(exec.status).toBe(202);
    const execId = exec.body.execution_id;
    // The run is parked in the delay when the definition changes.
    await eventually(async () => {
      const e = await api('GET', `/api/executions/${execId}`);
      expect(e.body.status).toBe('running');
      expect(e.body.steps.find((s: { step_id: string }) => s.step_id === 'wait')?.status).toBe('running');
      return true;
    });

    const put = await api('PUT', `/api/workflows/${wfId}`, { name: 'Versioned', description: 'v2', steps: [trigger(['mark2']), transform('mark2', { version: 'v2' })] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: wfId, version: 2, status: 'active', description: 'v2' });
    const current = await api('GET', `/api/workflows/${wfId}`);
    expect(current.body.version).toBe(2);
    expect(current.body.steps.map((s: { step_id: string }) => s.step_id)).toEqual(['trigger', 'mark2']);

    const done = await finished(execId);
    expect(done).toMatchObject({ id: execId, workflow_id: wfId, workflow_version: 1, status: 'completed', result: { version: 'v1' } });
    expect(stepStates(done)).toEqual([
      ['trigger', 'completed'],
      ['wait', 'completed'],
      ['mark', 'completed'],
    ]);

    const next = await api('POST', `/api/workflows/${wfId}/execute`, { trigger: {} });
    const doneV2 = await finished(next.body.execution_id);
    expect(doneV2).toMatchObject({ workflow_version: 2, status: 'completed', result: { version: 'v2' } });
    expect(stepStates(doneV2)).toEqual([
      ['trigger', 'completed'],
      ['mark2', 'completed'],
    ]);
  });

  it('DELETE archives: the workflow stays readable as archived and cannot be executed (409)', async () => {
    const created = await api('POST', '/api/workflows', { name: 'Doomed', steps: [trigger([])] });
    // Executed once first: the definition the executions service keeps must not outlive the archive.
    expect((await api('POST', `/api/workflows/${created.body.id}/execute`, { trigger: {} })).status).toBe(202);
    const del = await api('DELETE', `/api/workflows/${created.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: created.body.id, status: 'archived' });
    const got = await api('GET', `/api/workflows/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.status).toBe('archived');
    const exec = await api('POST', `/api/workflows/${created.body.id}/execute`, { trigger: {} });
    expect(exec.status).toBe(409);
    expect(exec.body.error.code).toBe('CONFLICT');
    const again = await api('DELETE', `/api/workflows/${created.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('archived');
  });

  it('POST /api/workflows/validate checks a definition without saving it', async () => {
    const scope = freshScope();
    const ok = await api('POST', '/api/workflows/validate', { name: 'Draft', steps: [trigger(['t']), transform('t', { a: 1 })] }, scope);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ valid: true });
    const bad = await api('POST', '/api/workflows/validate', { name: 'Draft', steps: [trigger(['nowhere'])] }, scope);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    expect(bad.body.error.details.length).toBeGreaterThanOrEqual(1);
    const list = await api('GET', '/api/workflows', undefined, scope);
    expect(list.body).toEqual({ items: [], next_cursor: null });
  });

  it('an Idempotency-Key repeat returns the same execution; another key starts another', async () => {
    const wf = await api('POST', '/api/workflows', { name: 'Once', steps: [trigger(['t']), transform('t', { n: 1 })] });
    const headers = (key: string) => ({ ...SCOPE_HEADERS, 'Idempotency-Key': key });
    const first = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, headers('order-42'));
    const second = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, headers('order-42'));
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.execution_id).toBe(first.body.execution_id);
    const other = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, headers('order-43'));
    expect(other.status).toBe(202);
    expect(other.body.execution_id).not.toBe(first.body.execution_id);

    // Concurrent retries of one request (a client timing out and resending) also agree.
    const racing = await Promise.all([1, 2, 3, 4].map(() => api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, headers('order-44'))));
    expect(racing.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(new Set(racing.map((r) => r.body.execution_id)).size).toBe(1);

    const done = await finished(first.body.execution_id);
    expect(done.status).toBe('completed');
    // One execution, one start: its log has exactly one ExecutionStarted.
    const events = await api('GET', `/api/executions/${racing[0]!.body.execution_id}/events`);
    expect(events.body.items.filter((e: { type: string }) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  it('GET /api/executions lists from the read model, filtered by workflow_id and status, with limit', async () => {
    const scope = freshScope();
    const a = await api('POST', '/api/workflows', { name: 'A', steps: [trigger(['t']), transform('t', { w: 'a' })] }, scope);
    const b = await api('POST', '/api/workflows', { name: 'B', steps: [trigger(['t']), transform('t', { w: 'b' })] }, scope);
    const runs: string[] = [];
    for (const wf of [a, a, b]) {
      const e = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, scope);
      expect(e.status).toBe(202);
      runs.push(e.body.execution_id);
      await finished(e.body.execution_id, scope);
    }

    const ofA = await eventually(async () => {
      const res = await api('GET', `/api/executions?workflow_id=${a.body.id}&status=completed`, undefined, scope);
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(2);
      return res.body;
    });
    // Newest first.
    expect(ofA.items.map((e: { id: string }) => e.id)).toEqual([runs[1], runs[0]]);
    for (const item of ofA.items) expect(item).toMatchObject({ workflow_id: a.body.id, status: 'completed' });
    expect(ofA.next_cursor).toBeNull();

    const limited = await api('GET', `/api/executions?workflow_id=${a.body.id}&status=completed&limit=1`, undefined, scope);
    expect(limited.body.items.map((e: { id: string }) => e.id)).toEqual([runs[1]]);
    expect(typeof limited.body.next_cursor).toBe('string');
    const rest = await api('GET', `/api/executions?workflow_id=${a.body.id}&status=completed&limit=1&cursor=${encodeURIComponent(limited.body.next_cursor)}`, undefined, scope);
    expect(rest.body.items.map((e: { id: string }) => e.id)).toEqual([runs[0]]);

    const running = await api('GET', `/api/executions?workflow_id=${a.body.id}&status=running`, undefined, scope);
    expect(running.body.items).toEqual([]);
    // The read model may not have B's run yet (the wait above was for A's two).
    const all = await eventually(async () => {
      const res = await api('GET', '/api/executions', undefined, scope);
      expect(res.body.items).toHaveLength(3);
      return res.body;
    });
    expect(all.items.map((e: { id: string }) => e.id)).toEqual([runs[2], runs[1], runs[0]]);
  });

  it('GET /api/executions/{id}/events returns the raw log, in order, with the ids the stream uses', async () => {
    const wf = await api('POST', '/api/workflows', { name: 'Audited', steps: [trigger(['t']), transform('t', { ok: true })] });
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { x: 1 } });
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${exec.body.execution_id}/stream`);
    const log = await api('GET', `/api/executions/${exec.body.execution_id}/events`);
    expect(log.status).toBe(200);
    const items: { id: string; seq: number; type: string }[] = log.body.items;
    expect(items[0]).toMatchObject({ type: 'ExecutionStarted', workflow_id: wf.body.id, input: { x: 1 } });
    expect(items.at(-1)!.type).toBe('ExecutionCompleted');
    expect(items.filter((e) => e.type === 'StepCompleted').map((e: any) => e.step_id)).toEqual(['trigger', 't']);
    // Every SSE id is the id of a log entry, so a client can line the two up.
    const logIds = new Set(items.map((e) => e.id));
    for (const m of messages.filter((m) => m.id !== undefined)) expect(logIds).toContain(m.id);
    const seqs = items.map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
  });
});
