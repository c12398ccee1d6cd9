import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@jetflow/contracts';
import { InProcessSystem } from '../support/jetflow-system';
import { http } from '../support/http-client';
import { eventually } from '../support/eventually';
import { HttpFixture } from '../support/http-fixture';

/**
 * A cancelled run starts nothing more: a step task of it that is still waiting (in the work queue,
 * or handed to a worker that has no free slot) is never performed. One steps slot makes the waiting
 * deterministic: run A's 10 s call holds it while B's and C's tasks wait behind it.
 */
describe('cancel: tasks still waiting are not performed (real NATS and PostgreSQL, local HTTP fixture)', () => {
  let sys: InProcessSystem;
  let fixture: HttpFixture;
  const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(sys.baseUrl, method, path, body);
  const slowRun = async (path: string) => {
    const url = fixture.route(path, () => ({ status: 200, body: { late: true }, delayMs: 10_000 }));
    const steps = [
      { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['call'] },
      { step_id: 'call', step_type: 'api_call', parameters: { url }, next_steps: [] },
    ];
    const wf = await api('POST', '/api/workflows', { name: `wf ${randomUUID()}`, steps });
    expect(wf.status).toBe(201);
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, {});
    expect(exec.status).toBe(202);
    return exec.body.execution_id as string;
  };
  /** Step tasks of one execution still in the work queue. */
  const queued = async (id: string) => {
    const info = await (await jetstreamManager(sys.jetflow.nc)).streams.info(STREAMS.tasks, { subjects_filter: `jetflow.tasks.${id}.*` });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  };
  const cancel = async (id: string) => {
    const res = await api('POST', `/api/executions/${id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
  };
  const skipped = async () => {
    const text = (await http(sys.baseUrl, 'GET', '/metrics', undefined, {})).text;
    const line = text.split('\n').find((l) => l.startsWith('jetflow_step_results_total{') && l.includes('step_type="api_call"') && l.includes('outcome="skipped"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  beforeAll(async () => {
    fixture = await HttpFixture.start();
    sys = await InProcessSystem.start({ API_CALL_ALLOW_PRIVATE: 'true', STEPS_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await sys?.stop();
    await fixture?.stop();
  });

  it('cancelling runs whose tasks wait behind a busy worker purges them from the queue, and they never call out', async () => {
    const [pa, pb, pc] = ['a', 'b', 'c'].map((n) => `/${n}/${randomUUID()}`) as [string, string, string];
    const a = await slowRun(pa);
    await eventually(() => fixture.hitsOf(pa).length === 1);
    // The only slot is busy: B's and C's tasks go to the work queue and wait there.
    const b = await slowRun(pb);
    const c = await slowRun(pc);
    await eventually(async () => (await queued(b)) === 1 && (await queued(c)) === 1);

    await cancel(b);
    // Only the cancelled run's tasks go: C's stays queued.
    expect(await queued(b)).toBe(0);
    expect(await queued(c)).toBe(1);
    await cancel(c);
    // Their tasks left the queue with the cancel, while A still holds the slot.
    expect(await queued(b)).toBe(0);
    expect(await queued(c)).toBe(0);
    expect(fixture.hitsOf(pa)).toHaveLength(1);

    // Free the slot: whatever of B and C the worker already held is skipped, not performed.
    await cancel(a);
    await eventually(() => fixture.aborted.some((h) => h.path === pa), { timeoutMs: 5_000 });
    const after = await slowRun(`/d/${randomUUID()}`); // the slot is free again: a new run's call goes out
    await eventually(() => fixture.hits.some((h) => h.path.startsWith('/d/')), { timeoutMs: 5_000 });
    expect(fixture.hitsOf(pb)).toHaveLength(0);
    expect(fixture.hitsOf(pc)).toHaveLength(0);
    // The worker had taken B's task off the queue before the cancel (it waited for the slot): skipped.
    expect(await skipped()).toBeGreaterThanOrEqual(1);
    await cancel(after);
    for (const id of [a, b, c]) expect((await api('GET', `/api/executions/${id}`)).body.status).toBe('cancelled');
  });
});
