import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';

/**
 * loop and parallel through HTTP and SSE on real NATS JetStream and PostgreSQL: item order whatever
 * the concurrency, `iteration` on step records and SSE events, nested loops, max_iterations, a
 * failing iteration, parallel branches joining once, max_concurrency, and fail_fast both ways.
 */

type StepView = { step_id: string; step_type: string; status: string; iteration?: number[]; started_at?: string; completed_at?: string; result?: any; error?: any };
type LogEvent = { type: string; step_id?: string; iteration?: number[]; [k: string]: unknown };

const ITEMS = ['a', 'b', 'c', 'd', 'e'];

/** trigger → each (loop over input.items; body: shape → echo) */
function loopWorkflow(name: string, concurrency: number) {
  return {
    name,
    steps: [
      { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['each'] },
      { step_id: 'each', step_type: 'loop', parameters: { items: '{{input.items}}', body: ['shape'], concurrency }, next_steps: [] },
      { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { item: '{{loop.item}}', index: '{{loop.index}}', label: 'item {{loop.index}}={{loop.item}}' } }, next_steps: ['echo'] },
      {
        step_id: 'echo',
        step_type: 'tool_call',
        parameters: { tool: 'noop', arguments: { item: '{{steps.shape.output.item}}', index: '{{steps.shape.output.index}}', label: '{{steps.shape.output.label}}' } },
        next_steps: [],
      },
    ],
  };
}

const expectedResults = (items: string[]) => items.map((item, index) => ({ item, index, label: `item ${index}=${item}` }));

describe('loops and parallel branches (HTTP + SSE, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(sys.baseUrl, method, path, body);

  async function create(definition: unknown): Promise<string> {
    const res = await api('POST', '/api/workflows', definition);
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** Starts a run, follows its SSE stream to `complete`, returns the execution, the stream and the raw log. */
  async function run(workflowId: string, trigger: Record<string, unknown>): Promise<{ exec: any; messages: SseMessage[]; log: LogEvent[] }> {
    const started = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api', ...trigger } });
    expect(started.status).toBe(202);
    const id = started.body.execution_id as string;
    const { status, messages } = await readSse(sys.baseUrl, `/api/executions/${id}/stream`, { timeoutMs: 30_000 });
    expect(status).toBe(200);
    // The log's messages (those with an id) end with exactly one `complete`. Control messages are
    // left out: the gateway can slip a `heartbeat` in after `complete` when that last write waits
    // for drain (apps/gateway execution-streamer.ts; reported, not ours to change here).
    const logMessages = messages.filter((m) => m.id !== undefined);
    expect(logMessages.at(-1)?.event).toBe('complete');
    expect(messages.filter((m) => m.event === 'complete')).toHaveLength(1);
    expect(messages.slice(messages.findIndex((m) => m.event === 'complete') + 1).every((m) => m.event === 'heartbeat')).toBe(true);
    const exec = (await api('GET', `/api/executions/${id}`)).body;
    const events = await api('GET', `/api/executions/${id}/events?limit=1000`);
    expect(events.status).toBe(200);
    expect(events.body.next_seq ?? null).toBeNull();
    return { exec, messages, log: events.body.items };
  }

  const records = (exec: { steps: StepView[] }, stepId: string) => exec.steps.filter((s) => s.step_id === stepId);
  const one = (exec: { steps: StepView[] }, stepId: string): StepView => {
    const rs = records(exec, stepId).filter((s) => !s.iteration);
    expect(rs).toHaveLength(1);
    return rs[0]!;
  };
  const sseOf = (messages: SseMessage[], event: string, step: string) => messages.filter((m) => m.event === event && m.data.step === step);
  const key = (path: number[] | undefined) => JSON.stringify(path ?? []);
  const ms = (iso: string | undefined) => {
    expect(typeof iso).toBe('string');
    return Date.parse(iso!);
  };

  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  describe('loop', () => {
    it.each([1, 3])('concurrency %i: output {results} in item order; records and SSE events carry the iteration', async (concurrency) => {
      const wf = await create(loopWorkflow(`loop-c${concurrency}`, concurrency));
      const { exec, messages, log } = await run(wf, { items: ITEMS });

      expect(exec.status).toBe('completed');
      const loop = one(exec, 'each');
      expect(loop).toMatchObject({ status: 'completed', result: { results: expectedResults(ITEMS) } });
      expect(exec.result).toEqual({ results: expectedResults(ITEMS) });
      expect(messages.find((m) => m.event === 'complete')!.data).toMatchObject({ status: 'completed', result: { results: expectedResults(ITEMS) } });

      // One record per body step per iteration, each saying which iteration it is.
      for (const stepId of ['shape', 'echo']) {
        const rs = records(exec, stepId);
        expect(rs.map((r) => key(r.iteration)).sort()).toEqual(ITEMS.map((_, i) => key([i])).sort());
        for (const r of rs) {
          expect(r.status).toBe('completed');
          const i = r.iteration![0]!;
          expect(r.result).toMatchObject({ item: ITEMS[i], index: i });
        }
      }
      // The loop step itself is top level: no iteration on its record or events.
      expect(loop.iteration).toBeUndefined();
      for (const m of [...sseOf(messages, 'step_start', 'each'), ...sseOf(messages, 'step_complete', 'each')]) expect(m.data.iteration).toBeUndefined();

      // SSE: every body step start/complete carries its iteration, once per iteration.
      for (const stepId of ['shape', 'echo']) {
        for (const event of ['step_start', 'step_complete']) {
          const found = sseOf(messages, event, stepId);
          expect(found.map((m) => key(m.data.iteration)).sort()).toEqual(ITEMS.map((_, i) => key([i])).sort());
        }
        for (const m of sseOf(messages, 'step_complete', stepId)) {
          expect(m.data.status).toBe('completed');
          expect(m.data.result).toMatchObject({ item: ITEMS[m.data.iteration[0]], index: m.data.iteration[0] });
        }
      }
      // tool events of the body carry it too.
      for (const m of messages.filter((m) => m.event === 'tool_call' || m.event === 'tool_result')) expect(m.data.iteration).toHaveLength(1);

      // In the log: never more than `concurrency` iterations in flight, and exactly that many at the start.
      let inFlight = 0;
      let peak = 0;
      for (const e of log) {
        if (e.type === 'StepStarted' && e.step_id === 'shape') peak = Math.max(peak, ++inFlight);
        if (e.type === 'StepCompleted' && e.step_id === 'echo') inFlight--;
      }
      expect(peak).toBe(concurrency);
      expect(log.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      if (concurrency === 1) {
        // Strictly one after the other: iteration i+1 starts after iteration i's last step completed.
        for (let i = 1; i < ITEMS.length; i++) {
          const prevEnd = records(exec, 'echo').find((r) => r.iteration![0] === i - 1)!;
          const next = records(exec, 'shape').find((r) => r.iteration![0] === i)!;
          expect(ms(next.started_at)).toBeGreaterThanOrEqual(ms(prevEnd.completed_at));
        }
      }
    });

    it('an empty array runs no iteration and completes with {results: []}', async () => {
      const wf = await create(loopWorkflow('loop-empty', 2));
      const { exec } = await run(wf, { items: [] });
      expect(exec.status).toBe('completed');
      expect(one(exec, 'each')).toMatchObject({ status: 'completed', result: { results: [] } });
      expect(records(exec, 'shape')).toHaveLength(0);
    });

    it('nests: an inner loop over {{loop.item.cells}} gives nested results and two-level iterations', async () => {
      const wf = await create({
        name: 'nested-loop',
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['rows'] },
          { step_id: 'rows', step_type: 'loop', parameters: { items: '{{input.rows}}', body: ['cells'], concurrency: 2 }, next_steps: ['summary'] },
          { step_id: 'cells', step_type: 'loop', parameters: { items: '{{loop.item.cells}}', body: ['cell'], concurrency: 2 }, next_steps: [] },
          { step_id: 'cell', step_type: 'data_transform', parameters: { mapping: { value: '{{loop.item}}', col: '{{loop.index}}' } }, next_steps: ['tool'] },
          { step_id: 'tool', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { value: '{{steps.cell.output.value}}', col: '{{steps.cell.output.col}}' } }, next_steps: [] },
          { step_id: 'summary', step_type: 'data_transform', parameters: { mapping: { table: '{{steps.rows.output.results}}' } }, next_steps: [] },
        ],
      });
      const rows = [{ cells: ['r0c0', 'r0c1', 'r0c2'] }, { cells: ['r1c0'] }, { cells: [] }, { cells: ['r3c0', 'r3c1'] }];
      const { exec, messages } = await run(wf, { rows });

      expect(exec.status).toBe('completed');
      const expected = rows.map((r) => ({ results: r.cells.map((value, col) => ({ value, col })) }));
      expect(one(exec, 'rows')).toMatchObject({ status: 'completed', result: { results: expected } });
      expect(exec.result).toEqual({ table: expected });

      // The inner loop runs once per row (iteration [r]); its body once per cell (iteration [r, c]).
      expect(records(exec, 'cells').map((r) => key(r.iteration)).sort()).toEqual(rows.map((_, r) => key([r])).sort());
      const cellPaths = rows.flatMap((row, r) => row.cells.map((_, c) => key([r, c]))).sort();
      for (const stepId of ['cell', 'tool']) {
        expect(records(exec, stepId).map((r) => key(r.iteration)).sort()).toEqual(cellPaths);
        for (const r of records(exec, stepId)) {
          const [ri, ci] = r.iteration!;
          expect(r.result).toEqual({ value: rows[ri!]!.cells[ci!], col: ci });
        }
        expect(sseOf(messages, 'step_start', stepId).map((m) => key(m.data.iteration)).sort()).toEqual(cellPaths);
        expect(sseOf(messages, 'step_complete', stepId).map((m) => key(m.data.iteration)).sort()).toEqual(cellPaths);
      }
      expect(sseOf(messages, 'step_complete', 'cells').map((m) => key(m.data.iteration)).sort()).toEqual(rows.map((_, r) => key([r])).sort());
    });

    it('more items than max_iterations fails the run with VALIDATION_ERROR in the error event', async () => {
      const wf = await create({
        name: 'loop-too-many',
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['each'] },
          { step_id: 'each', step_type: 'loop', parameters: { items: '{{input.items}}', body: ['shape'], max_iterations: 3 }, next_steps: ['after'] },
          { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { item: '{{loop.item}}' } }, next_steps: [] },
          { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { ok: true } }, next_steps: [] },
        ],
      });
      const { exec, messages } = await run(wf, { items: [1, 2, 3, 4] });

      expect(exec.status).toBe('failed');
      expect(exec.error).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(one(exec, 'each')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
      expect(records(exec, 'shape')).toHaveLength(0);
      expect(sseOf(messages, 'step_start', 'after')).toHaveLength(0);
      const errors = messages.filter((m) => m.event === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.data).toMatchObject({ code: 'VALIDATION_ERROR', step: 'each' });
      expect(errors[0]!.data.error).toMatch(/max_iterations/);
      expect(messages.find((m) => m.event === 'complete')!.data).toMatchObject({ status: 'failed' });

      // Exactly max_iterations items is fine.
      const okRun = await run(wf, { items: [1, 2, 3] });
      expect(okRun.exec.status).toBe('completed');
      expect(one(okRun.exec, 'each').result).toEqual({ results: [{ item: 1 }, { item: 2 }, { item: 3 }] });
    });

    it('a failing iteration (unknown tool → TOOL_ERROR) fails the loop and the run; later iterations never start', async () => {
      const wf = await create({
        name: 'loop-failing-iteration',
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['each'] },
          { step_id: 'each', step_type: 'loop', parameters: { items: '{{input.items}}', body: ['check'], concurrency: 1 }, next_steps: ['after'] },
          { step_id: 'check', step_type: 'condition', parameters: { condition: '{{loop.index}} == 1' }, next_steps: ['broken'], else_steps: ['fine'] },
          { step_id: 'broken', step_type: 'tool_call', parameters: { tool: 'no_such_tool_e2e', arguments: { i: '{{loop.index}}' } }, next_steps: [] },
          { step_id: 'fine', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { i: '{{loop.index}}' } }, next_steps: [] },
          { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { ok: true } }, next_steps: [] },
        ],
      });
      const { exec, messages } = await run(wf, { items: ['x', 'y', 'z'] });

      expect(exec.status).toBe('failed');
      expect(exec.error).toMatchObject({ code: 'TOOL_ERROR' });
      expect(one(exec, 'each')).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
      // Iteration 0 ran fine, iteration 1 failed, iteration 2 never started (concurrency 1).
      expect(records(exec, 'fine').map((r) => [key(r.iteration), r.status])).toEqual([
        [key([0]), 'completed'],
        [key([1]), 'skipped'],
      ]);
      expect(records(exec, 'broken').map((r) => [key(r.iteration), r.status, r.error?.code])).toEqual([
        [key([0]), 'skipped', undefined],
        [key([1]), 'failed', 'TOOL_ERROR'],
      ]);
      expect(records(exec, 'check').every((r) => r.iteration![0]! < 2)).toBe(true);
      expect(records(exec, 'check').map((r) => key(r.iteration)).sort()).toEqual([key([0]), key([1])]);
      expect(records(exec, 'after')).toHaveLength(0);

      const brokenDone = sseOf(messages, 'step_complete', 'broken').map((m) => [key(m.data.iteration), m.data.status]);
      expect(brokenDone).toEqual([
        [key([0]), 'skipped'],
        [key([1]), 'failed'],
      ]);
      expect(sseOf(messages, 'step_complete', 'each')[0]!.data).toMatchObject({ status: 'failed' });
      expect(messages.filter((m) => m.event === 'error').map((m) => m.data.code)).toEqual(['TOOL_ERROR']);
      expect(messages.find((m) => m.event === 'complete')!.data).toMatchObject({ status: 'failed' });
    });
  });

  describe('parallel', () => {
    /** trigger → par ⇉ {a: noop | b: delay | c1 → c2} → join */
    function parallelWorkflow(name: string, params: Record<string, unknown>, delaySeconds = 1) {
      return {
        name,
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['par'] },
          { step_id: 'par', step_type: 'parallel', parameters: params, next_steps: ['a', 'b', 'c1'] },
          { step_id: 'a', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { branch: 'a', n: '{{input.n}}' } }, next_steps: ['join'] },
          { step_id: 'b', step_type: 'delay', parameters: { seconds: delaySeconds }, next_steps: ['join'] },
          { step_id: 'c1', step_type: 'data_transform', parameters: { mapping: { doubled: '{{input.n}}{{input.n}}' } }, next_steps: ['c2'] },
          { step_id: 'c2', step_type: 'data_transform', parameters: { mapping: { from_c1: '{{steps.c1.output.doubled}}', branch: 'c' } }, next_steps: ['join'] },
          {
            step_id: 'join',
            step_type: 'data_transform',
            parameters: { mapping: { a: '{{steps.a.output}}', waited_ms: '{{steps.b.output.waited_ms}}', c: '{{steps.c2.output}}' } },
            next_steps: [],
          },
        ],
      };
    }
    const BRANCHES: Record<string, string[]> = { a: ['a'], b: ['b'], c: ['c1', 'c2'] };

    it('runs 3 branches concurrently and the join exactly once, after all of them', async () => {
      const wf = await create(parallelWorkflow('parallel-join', {}));
      const { exec, messages, log } = await run(wf, { n: 7 });

      expect(exec.status).toBe('completed');
      expect(exec.result).toMatchObject({ a: { branch: 'a', n: 7 }, c: { from_c1: '77', branch: 'c' } });
      expect(exec.result.waited_ms).toBeGreaterThanOrEqual(1000);
      for (const id of ['par', 'a', 'b', 'c1', 'c2', 'join']) expect(one(exec, id).status).toBe('completed');

      expect(log.filter((e) => e.type === 'StepStarted' && e.step_id === 'join')).toHaveLength(1);
      expect(log.filter((e) => e.type === 'StepCompleted' && e.step_id === 'join')).toHaveLength(1);
      expect(sseOf(messages, 'step_start', 'join')).toHaveLength(1);

      // Concurrent: the fast branches finished while the delay branch was still running.
      const pos = (type: string, step: string) => log.findIndex((e) => e.type === type && e.step_id === step);
      expect(pos('StepCompleted', 'a')).toBeLessThan(pos('StepCompleted', 'b'));
      expect(pos('StepCompleted', 'c2')).toBeLessThan(pos('StepCompleted', 'b'));
      expect(pos('StepStarted', 'b')).toBeLessThan(pos('StepCompleted', 'a'));
      // The join after every branch.
      for (const s of ['a', 'b', 'c2']) expect(pos('StepCompleted', s)).toBeLessThan(pos('StepStarted', 'join'));
    });

    it('max_concurrency: 1 runs the branches one at a time (they never overlap)', async () => {
      const wf = await create(parallelWorkflow('parallel-serial', { max_concurrency: 1 }, 0.3));
      const { exec, log } = await run(wf, { n: 3 });

      expect(exec.status).toBe('completed');
      expect(exec.result).toMatchObject({ a: { branch: 'a', n: 3 }, c: { from_c1: '33', branch: 'c' } });
      expect(log.filter((e) => e.type === 'StepStarted' && e.step_id === 'join')).toHaveLength(1);

      const spans = Object.values(BRANCHES)
        .map((members) => {
          const rs = members.map((id) => one(exec, id));
          return { start: ms(rs[0]!.started_at), end: ms(rs.at(-1)!.completed_at) };
        })
        .sort((x, y) => x.start - y.start);
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);

      // Same in log order: at most one branch between its head's start and its last step's completion.
      const ends: Record<string, string> = { a: 'a', b: 'b', c1: 'c2' };
      let open = 0;
      for (const e of log) {
        if (e.type === 'StepStarted' && e.step_id && e.step_id in ends) {
          open++;
          expect(open).toBe(1);
        }
        if (e.type === 'StepCompleted' && Object.values(ends).includes(e.step_id!)) open--;
      }
    });

    /** trigger → par ⇉ {bad: unknown tool | slow: delay → slow_tool | quick: noop} → join */
    function failingParallel(name: string, failFast: boolean | undefined, delaySeconds: number) {
      return {
        name,
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['par'] },
          { step_id: 'par', step_type: 'parallel', parameters: failFast === undefined ? {} : { fail_fast: failFast }, next_steps: ['bad', 'slow', 'quick'] },
          { step_id: 'bad', step_type: 'tool_call', parameters: { tool: 'no_such_tool_e2e', arguments: {} }, next_steps: ['join'] },
          { step_id: 'slow', step_type: 'delay', parameters: { seconds: delaySeconds }, next_steps: ['slow_tool'] },
          { step_id: 'slow_tool', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { slow: true } }, next_steps: ['join'] },
          { step_id: 'quick', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { quick: true } }, next_steps: ['join'] },
          { step_id: 'join', step_type: 'data_transform', parameters: { mapping: { joined: true } }, next_steps: [] },
        ],
      };
    }

    it('fail_fast (default true): one failing branch cancels the running ones and fails the run', async () => {
      const wf = await create(failingParallel('parallel-fail-fast', undefined, 30));
      const { exec, messages, log } = await run(wf, {});

      expect(exec.status).toBe('failed');
      expect(exec.error).toMatchObject({ code: 'TOOL_ERROR' });
      expect(one(exec, 'bad')).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
      // The 30 s delay was still running: cancelled, its successor never started, nor the join.
      expect(one(exec, 'slow').status).toBe('cancelled');
      expect(records(exec, 'slow_tool')).toHaveLength(0);
      expect(records(exec, 'join').filter((r) => r.status !== 'skipped' && r.status !== 'cancelled')).toHaveLength(0);
      expect(log.some((e) => e.type === 'StepStarted' && e.step_id === 'join')).toBe(false);
      expect(log.some((e) => e.type === 'StepCompleted' && e.step_id === 'slow')).toBe(false);
      expect(sseOf(messages, 'step_complete', 'slow').map((m) => m.data.status)).toEqual(['cancelled']);
      expect(ms(exec.completed_at) - ms(exec.started_at)).toBeLessThan(30_000);
      expect(messages.filter((m) => m.event === 'error').map((m) => m.data.code)).toEqual(['TOOL_ERROR']);
      expect(messages.find((m) => m.event === 'complete')!.data).toMatchObject({ status: 'failed' });
      expect(log.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      expect(log.at(-1)!.type).toBe('ExecutionCompleted');
    });

    it('fail_fast: false: the other branches finish, the join is skipped, then the run fails', async () => {
      const wf = await create(failingParallel('parallel-no-fail-fast', false, 1));
      const { exec, messages, log } = await run(wf, {});

      expect(exec.status).toBe('failed');
      expect(exec.error).toMatchObject({ code: 'TOOL_ERROR' });
      expect(one(exec, 'bad')).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
      expect(one(exec, 'slow').status).toBe('completed');
      expect(one(exec, 'slow_tool')).toMatchObject({ status: 'completed', result: { slow: true } });
      expect(one(exec, 'quick')).toMatchObject({ status: 'completed', result: { quick: true } });
      expect(one(exec, 'join').status).toBe('skipped');
      expect(log.some((e) => e.type === 'StepStarted' && e.step_id === 'join')).toBe(false);
      expect(sseOf(messages, 'step_complete', 'join').map((m) => m.data.status)).toEqual(['skipped']);

      // The run fails only after the slow branch finished.
      const pos = (type: string, step?: string) => log.findIndex((e) => e.type === type && (step === undefined || e.step_id === step));
      expect(pos('StepFailed', 'bad')).toBeLessThan(pos('StepCompleted', 'slow_tool'));
      expect(pos('StepCompleted', 'slow_tool')).toBeLessThan(pos('ExecutionCompleted'));
      expect(log.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      expect(messages.filter((m) => m.event === 'error').map((m) => m.data.code)).toEqual(['TOOL_ERROR']);
      expect(messages.find((m) => m.event === 'complete')!.data).toMatchObject({ status: 'failed' });
      expect(messages.some((m) => m.event === 'step_complete' && m.data.status === 'cancelled')).toBe(false);
    });
  });
});
