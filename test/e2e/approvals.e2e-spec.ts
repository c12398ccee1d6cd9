import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { loadConfig } from '@jetflow/config';
import { startJetflow, type RunningJetflow } from '../../apps/all-in-one/src/jetflow.boot';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';
import { eventually } from '../support/eventually';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Scope headers of a fresh organization, so lists in a test see only that test's objects. */
function freshScope(user = 'user-e2e'): Record<string, string> {
  return { ...SCOPE_HEADERS, 'X-elevAIte-OrganizationId': `org-${randomUUID()}`, 'X-elevAIte-UserId': user };
}

const trigger = (next: string[]) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const transform = (id: string, mapping: Record<string, unknown>, next: string[] = []) => ({ step_id: id, step_type: 'data_transform', parameters: { mapping }, next_steps: next });
const approval = (id: string, parameters: Record<string, unknown>, next: string[], elseSteps?: string[]) => ({
  step_id: id,
  step_type: 'human_approval',
  parameters,
  next_steps: next,
  ...(elseSteps ? { else_steps: elseSteps } : {}),
});

describe('human approvals (HTTP + SSE, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);

  /** Creates the workflow, starts a run, and waits for its approvals to be listed pending. */
  const startWaiting = async (steps: unknown[], scope: Record<string, string>, pending = 1, trig: Record<string, unknown> = {}) => {
    const wf = await api('POST', '/api/workflows', { name: `approvals ${randomUUID()}`, steps }, scope);
    expect(wf.status).toBe(201);
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: trig }, scope);
    expect(exec.status).toBe(202);
    const executionId: string = exec.body.execution_id;
    const approvals: any[] = await eventually(async () => {
      const res = await api('GET', `/api/approvals?status=pending&execution_id=${executionId}`, undefined, scope);
      expect(res.status).toBe(200);
      return res.body.items.length === pending ? res.body.items : false;
    });
    return { workflowId: wf.body.id as string, executionId, approvals };
  };
  const stream = async (executionId: string, scope: Record<string, string>) => {
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers: scope });
    expect(messages.at(-1)?.event).toBe('complete');
    return messages;
  };
  const events = (messages: SseMessage[], name: string) => messages.filter((m) => m.event === name);
  const approvalOf = async (id: string, executionId: string, scope: Record<string, string>) =>
    (await api('GET', `/api/approvals?execution_id=${executionId}`, undefined, scope)).body.items.find((a: { id: string }) => a.id === id);

  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('approve: the run waits, then continues to next_steps with the decision as the step output', async () => {
    const scope = freshScope();
    const { executionId, workflowId, approvals } = await startWaiting(
      [
        trigger(['gate']),
        approval('gate', { approvers: ['user-e2e'], message: 'Refund {{input.amount}}?', timeout_hours: 1 }, ['after']),
        transform('after', { decision: '{{steps.gate.output.decision}}', by: '{{steps.gate.output.decided_by}}' }),
      ],
      scope,
      1,
      { amount: 42 },
    );
    const [pending] = approvals;
    expect(pending).toMatchObject({ execution_id: executionId, workflow_id: workflowId, step_id: 'gate', status: 'pending', approvers: ['user-e2e'], message: 'Refund 42?', comment: null, decided_by: null, decided_at: null });
    expect(pending.expires_at).toMatch(ISO);
    expect(pending.created_at).toMatch(ISO);
    expect((await api('GET', `/api/executions/${executionId}`, undefined, scope)).body.status).toBe('waiting');

    const res = await api('POST', `/api/approvals/${pending.id}`, { decision: 'approved', comment: 'looks fine' }, scope);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: pending.id, status: 'approved', comment: 'looks fine', decided_by: 'user-e2e' });
    expect(res.body.decided_at).toMatch(ISO);

    const messages = await stream(executionId, scope);
    const statuses = events(messages, 'status').map((m) => m.data.status);
    expect(statuses.indexOf('waiting')).toBeGreaterThanOrEqual(0);
    expect(statuses.lastIndexOf('running')).toBeGreaterThan(statuses.indexOf('waiting'));
    const gateDone = events(messages, 'step_complete').find((m) => m.data.step === 'gate');
    expect(gateDone!.data).toMatchObject({ status: 'completed', result: { decision: 'approved', comment: 'looks fine', decided_by: 'user-e2e', decided_at: res.body.decided_at } });
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { decision: 'approved', by: 'user-e2e' } });
    const exec = (await api('GET', `/api/executions/${executionId}`, undefined, scope)).body;
    expect(exec.steps.find((s: { step_id: string }) => s.step_id === 'gate')).toMatchObject({ status: 'completed', result: { decision: 'approved' } });
    expect((await approvalOf(pending.id, executionId, scope)).status).toBe('approved');
  });

  it('deny without else_steps fails the run with APPROVAL_REJECTED', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting([trigger(['gate']), approval('gate', {}, ['after']), transform('after', { x: 1 })], scope);
    const res = await api('POST', `/api/approvals/${approvals[0].id}/deny`, { comment: 'no way' }, scope);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'rejected', comment: 'no way' });

    const messages = await stream(executionId, scope);
    expect(events(messages, 'error').map((m) => m.data.code)).toContain('APPROVAL_REJECTED');
    expect(messages.at(-1)!.data).toMatchObject({ status: 'failed', error: { code: 'APPROVAL_REJECTED' } });
    const exec = (await api('GET', `/api/executions/${executionId}`, undefined, scope)).body;
    expect(exec).toMatchObject({ status: 'failed', error: { code: 'APPROVAL_REJECTED' } });
    expect(exec.steps.find((s: { step_id: string }) => s.step_id === 'after')?.status ?? 'not run').not.toBe('completed');
    expect((await approvalOf(approvals[0].id, executionId, scope)).status).toBe('rejected');
  });

  it('reject with else_steps routes there', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting(
      [trigger(['gate']), approval('gate', {}, ['after'], ['fallback']), transform('after', { path: 'approved' }), transform('fallback', { path: 'rejected', why: '{{steps.gate.output.comment}}' })],
      scope,
    );
    const res = await api('POST', `/api/approvals/${approvals[0].id}`, { decision: 'rejected', comment: 'too risky' }, scope);
    expect(res.status).toBe(200);
    const messages = await stream(executionId, scope);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { path: 'rejected', why: 'too risky' } });
    const steps = (await api('GET', `/api/executions/${executionId}`, undefined, scope)).body.steps as { step_id: string; status: string }[];
    expect(steps.find((s) => s.step_id === 'fallback')?.status).toBe('completed');
    expect(steps.find((s) => s.step_id === 'after')?.status).toBe('skipped');
  });

  it('only a listed approver decides (user id or email); a second decision is 409', async () => {
    const scope = freshScope('mallory');
    const { executionId, approvals } = await startWaiting(
      [trigger(['gate']), approval('gate', { approvers: ['boss', 'Lead@Example.com'] }, ['after']), transform('after', { done: true })],
      scope,
    );
    const id = approvals[0].id;
    const forbidden = await api('POST', `/api/approvals/${id}`, { decision: 'approved' }, scope);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    expect((await api('POST', `/api/approvals/${id}/approve`, {}, { ...scope, 'X-elevAIte-UserEmail': 'someone@example.com' })).status).toBe(403);
    expect((await api('POST', `/api/approvals/${id}`, { decision: 'approved' }, { ...scope, 'X-elevAIte-OrganizationId': 'org-elsewhere' })).status).toBe(404);
    expect((await api('POST', `/api/approvals/${id}`, { decision: 'maybe' }, scope)).status).toBe(400);

    const ok = await api('POST', `/api/approvals/${id}/approve`, undefined, { ...scope, 'X-elevAIte-UserEmail': 'lead@example.com' });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('approved');
    const again = await api('POST', `/api/approvals/${id}`, { decision: 'rejected' }, { ...scope, 'X-elevAIte-UserId': 'boss' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    expect((await stream(executionId, scope)).at(-1)!.data).toMatchObject({ status: 'completed', result: { done: true } });
  });

  it('racing decisions: exactly one wins, the rest 409, the run continues once', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting([trigger(['gate']), approval('gate', {}, ['after']), transform('after', { done: true })], scope);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => api('POST', `/api/approvals/${approvals[0].id}`, { decision: 'approved', comment: `racer ${i}` }, scope)),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
    const winner = results.find((r) => r.status === 200)!.body;
    const messages = await stream(executionId, scope);
    const gateDone = events(messages, 'step_complete').filter((m) => m.data.step === 'gate');
    expect(gateDone).toHaveLength(1);
    expect(gateDone[0]!.data.result).toMatchObject({ decision: 'approved', comment: winner.comment });
    expect(events(messages, 'step_complete').filter((m) => m.data.step === 'after')).toHaveLength(1);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { done: true } });
    expect(events(messages, 'complete')).toHaveLength(1);
  });

  it('timeout: the run ends timeout (TIMEOUT) and the approval expires', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting([trigger(['gate']), approval('gate', { timeout_hours: 0.0005 }, ['after']), transform('after', { x: 1 })], scope);
    const messages = await stream(executionId, scope);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'timeout', error: { code: 'TIMEOUT' } });
    expect((await api('GET', `/api/executions/${executionId}`, undefined, scope)).body).toMatchObject({ status: 'timeout', error: { code: 'TIMEOUT' } });
    await eventually(async () => (await approvalOf(approvals[0].id, executionId, scope)).status === 'expired');
    const late = await api('POST', `/api/approvals/${approvals[0].id}`, { decision: 'approved' }, scope);
    expect(late.status).toBe(409);
  });

  it('two approvals pending at once in parallel branches are both listed and both decidable', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting(
      [
        trigger(['fan']),
        { step_id: 'fan', step_type: 'parallel', parameters: {}, next_steps: ['legal', 'finance'] },
        approval('legal', { message: 'legal ok?' }, ['join']),
        approval('finance', { message: 'finance ok?' }, ['join']),
        transform('join', { legal: '{{steps.legal.output.decision}}', finance: '{{steps.finance.output.decision}}' }),
      ],
      scope,
      2,
    );
    expect(approvals.map((a) => a.step_id).sort()).toEqual(['finance', 'legal']);
    const legal = approvals.find((a) => a.step_id === 'legal');
    const finance = approvals.find((a) => a.step_id === 'finance');
    expect((await api('POST', `/api/approvals/${legal.id}/approve`, {}, scope)).status).toBe(200);
    await eventually(async () => (await api('GET', `/api/approvals?status=pending&execution_id=${executionId}`, undefined, scope)).body.items.length === 1);
    expect((await api('GET', `/api/executions/${executionId}`, undefined, scope)).body.status).toBe('waiting');
    expect((await api('POST', `/api/approvals/${finance.id}`, { decision: 'approved' }, scope)).status).toBe(200);
    const messages = await stream(executionId, scope);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { legal: 'approved', finance: 'approved' } });
  });

  it('cancel while waiting cancels the approval', async () => {
    const scope = freshScope();
    const { executionId, approvals } = await startWaiting([trigger(['gate']), approval('gate', {}, [])], scope);
    expect((await api('POST', `/api/executions/${executionId}/cancel`, undefined, scope)).status).toBeLessThan(300);
    await eventually(async () => (await approvalOf(approvals[0].id, executionId, scope)).status === 'cancelled');
    expect((await api('POST', `/api/approvals/${approvals[0].id}`, { decision: 'approved' }, scope)).status).toBe(409);
  });

  it('a decision sent right after cancel returned is never a 200: the run stays cancelled and so does the approval', async () => {
    const scope = freshScope();
    for (let i = 0; i < 5; i++) {
      const { executionId, approvals } = await startWaiting([trigger(['gate']), approval('gate', {}, ['after']), transform('after', { x: 1 })], scope);
      expect((await api('POST', `/api/executions/${executionId}/cancel`, undefined, scope)).status).toBeLessThan(300);
      // Before the approvals read model has seen the cancel, as often as not.
      const decided = await api('POST', `/api/approvals/${approvals[0].id}`, { decision: 'approved' }, scope);
      expect([decided.status, decided.body?.error?.code]).toEqual([409, 'CONFLICT']);
      expect((await api('GET', `/api/executions/${executionId}`, undefined, scope)).body.status).toBe('cancelled');
      await eventually(async () => (await approvalOf(approvals[0].id, executionId, scope)).status === 'cancelled');
    }
  });

  it('lists by status, execution and workflow, newest first, and never across scopes', async () => {
    const scope = freshScope();
    const steps = [trigger(['gate']), approval('gate', {}, ['after']), transform('after', { x: 1 })];
    const first = await startWaiting(steps, scope);
    const second = await startWaiting(steps, scope);
    const done = await api('POST', `/api/approvals/${first.approvals[0].id}`, { decision: 'approved' }, scope);
    expect(done.status).toBe(200);

    const all = (await api('GET', '/api/approvals', undefined, scope)).body;
    expect(all.items.map((a: { id: string }) => a.id)).toEqual([second.approvals[0].id, first.approvals[0].id]);
    expect(all.next_cursor).toBeNull();
    const page1 = (await api('GET', '/api/approvals?limit=1', undefined, scope)).body;
    expect(page1.items).toHaveLength(1);
    const page2 = (await api('GET', `/api/approvals?limit=1&cursor=${encodeURIComponent(page1.next_cursor)}`, undefined, scope)).body;
    expect(page2.items.map((a: { id: string }) => a.id)).toEqual([first.approvals[0].id]);

    const pending = (await api('GET', '/api/approvals?status=pending', undefined, scope)).body.items;
    expect(pending.map((a: { id: string }) => a.id)).toEqual([second.approvals[0].id]);
    const approved = (await api('GET', '/api/approvals?status=approved', undefined, scope)).body.items;
    expect(approved.map((a: { id: string }) => a.id)).toEqual([first.approvals[0].id]);
    const byExec = (await api('GET', `/api/approvals?execution_id=${first.executionId}`, undefined, scope)).body.items;
    expect(byExec.map((a: { id: string }) => a.id)).toEqual([first.approvals[0].id]);
    const byWorkflow = (await api('GET', `/api/approvals?workflow_id=${second.workflowId}`, undefined, scope)).body.items;
    expect(byWorkflow.map((a: { id: string }) => a.id)).toEqual([second.approvals[0].id]);
    expect((await api('GET', `/api/approvals?workflow_id=${randomUUID()}`, undefined, scope)).body.items).toEqual([]);
    expect((await api('GET', '/api/approvals?status=bogus', undefined, scope)).status).toBe(400);

    const other = freshScope();
    expect((await api('GET', '/api/approvals', undefined, other)).body).toEqual({ items: [], next_cursor: null });
    expect((await api('GET', `/api/approvals?execution_id=${first.executionId}`, undefined, other)).body.items).toEqual([]);
    expect((await api('POST', `/api/approvals/${second.approvals[0].id}`, { decision: 'approved' }, other)).status).toBe(404);
  });
});

describe('a decision made while the executions service is down (HTTP, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  let executions: RunningJetflow | undefined;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);
  const startExecutions = async () => {
    const config = loadConfig({ NATS_URL: sys.nats.url, DATABASE_URL: sys.db.url, SERVICES: 'executions', LOG_LEVEL: 'silent' });
    executions = await startJetflow(config, { logger: pino({ level: 'silent' }), sweepIntervalMs: 500 });
  };

  beforeAll(async () => {
    sys = await InProcessSystem.start({ SERVICES: 'gateway,workflows,approvals,steps' });
    await startExecutions();
  });
  afterAll(async () => {
    await executions?.stop();
    await sys?.stop();
  });

  it('is committed at once and reaches the run when the service is back', async () => {
    const scope = freshScope();
    const wf = await api(
      'POST',
      '/api/workflows',
      { name: 'down', steps: [trigger(['gate']), approval('gate', {}, ['after']), transform('after', { decision: '{{steps.gate.output.decision}}' })] },
      scope,
    );
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: {} }, scope);
    expect(exec.status).toBe(202);
    const executionId = exec.body.execution_id;
    const [pending]: any[] = await eventually(async () => {
      const items = (await api('GET', `/api/approvals?status=pending&execution_id=${executionId}`, undefined, scope)).body.items;
      return items.length === 1 ? items : false;
    });

    await executions!.stop();
    executions = undefined;
    const res = await api('POST', `/api/approvals/${pending.id}`, { decision: 'approved', comment: 'while down' }, scope);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'approved', comment: 'while down' });
    expect((await api('POST', `/api/approvals/${pending.id}`, { decision: 'rejected' }, scope)).status).toBe(409);

    await startExecutions();
    const done = await eventually(async () => {
      const e = await api('GET', `/api/executions/${executionId}`, undefined, scope);
      return e.status === 200 && e.body.status === 'completed' ? e.body : false;
    });
    expect(done.result).toEqual({ decision: 'approved' });
    expect(done.steps.find((s: { step_id: string }) => s.step_id === 'gate')).toMatchObject({ status: 'completed', result: { decision: 'approved', comment: 'while down' } });
  });
});
