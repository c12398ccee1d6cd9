import { createHash, randomUUID } from 'node:crypto';
import {
  JetflowError,
  type ExecuteBody,
  type ExecutionCommand,
  type ExecutionStartedView,
  type ExecutionStatus,
  type ExecutionView,
  type ExecutionsRpc,
  type ListPage,
  type ExecutionSummaryView,
  type Scope,
  type WorkflowDefinition,
  stepKey,
} from '@jetflow/contracts';
import { toExecutionView, type ExecutionState } from '@jetflow/engine';
import type { EventStore } from '@jetflow/event-store';
import type { ExecutionActorHost } from './execution-actor.host';

export interface PinnedDefinition {
  readonly workflow_id: string;
  readonly version: number;
  readonly definition: WorkflowDefinition;
}

export interface ExecutionsServiceDeps {
  readonly store: EventStore;
  readonly host: ExecutionActorHost;
  /**
   * Current definition of a workflow in a scope (the workflows service, over NATS), webhook secret
   * already masked: the pinned snapshot goes into the log and to SSE.
   */
  readonly definitionOf: (scope: Scope, workflowId: string) => Promise<PinnedDefinition>;
  /** The read model's list query. */
  readonly list: (scope: Scope, query: ExecutionsRpc['list']['req']['query']) => Promise<ListPage<ExecutionSummaryView>>;
  readonly clock?: () => Date;
  readonly random?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The executions service's use cases (behind NATS request/reply). */
export class ExecutionsService {
  private readonly clock: () => Date;
  private readonly random: () => number;
  constructor(private readonly deps: ExecutionsServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.random = deps.random ?? Math.random;
  }

  async start(req: ExecutionsRpc['start']['req']): Promise<ExecutionStartedView> {
    const body = checkExecuteBody(req.body);
    const pinned = await this.deps.definitionOf(req.scope, req.workflow_id);
    const key = req.idempotency_key;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 255)) {
      throw new JetflowError('VALIDATION_ERROR', 'Idempotency-Key must be 1-255 characters');
    }
    const executionId = key ? idempotentId(req.scope, req.workflow_id, key) : randomUUID();
    if (key) {
      const existing = await this.deps.host.load(executionId);
      if (existing.seq > 0) return startedView(existing.state);
    }
    const triggerKind = pinned.definition.steps.find((s) => s.step_type === 'trigger')?.parameters['kind'];
    const input = { ...(typeof triggerKind === 'string' ? { kind: triggerKind } : {}), ...(body.trigger ?? {}) };
    const { state } = await this.deps.host.handle(
      executionId,
      {
        type: 'StartExecution',
        execution_id: executionId,
        workflow_id: pinned.workflow_id,
        workflow_version: pinned.version,
        definition: pinned.definition,
        scope: { organization_id: req.scope.organization_id, project_id: req.scope.project_id, ...(req.scope.user_id ? { user_id: req.scope.user_id } : {}) },
        input,
        context: body.context ?? {},
        user_id: body.user_id ?? req.scope.user_id ?? null,
        session_id: body.session_id ?? null,
        now: this.clock().toISOString(),
      },
      { assumeNew: !key },
    );
    return startedView(state);
  }

  async get(req: ExecutionsRpc['get']['req']): Promise<ExecutionView> {
    return toExecutionView(await this.scoped(req.scope, req.id));
  }

  async cancel(req: ExecutionsRpc['cancel']['req']): Promise<ExecutionView> {
    await this.scoped(req.scope, req.id);
    const { state } = await this.deps.host.handle(req.id, { type: 'CancelExecution', now: this.clock().toISOString(), reason: 'cancelled by request' });
    return toExecutionView(state);
  }

  async message(req: ExecutionsRpc['message']['req']): Promise<ExecutionsRpc['message']['res']> {
    await this.scoped(req.scope, req.id);
    if (!req.end && (typeof req.content !== 'string' || req.content.length === 0 || req.content.length > 100_000)) {
      throw new JetflowError('VALIDATION_ERROR', 'content must be a non-empty string of at most 100000 characters');
    }
    const { state } = await this.deps.host.handle(req.id, {
      type: 'AddUserMessage',
      message_id: req.message_id ?? randomUUID(),
      content: req.content ?? '',
      ...(req.end ? { end: true } : {}),
      now: this.clock().toISOString(),
    });
    return { execution_id: req.id, status: state.status as ExecutionStatus };
  }

  async authorize(req: ExecutionsRpc['authorize']['req']): Promise<{ id: string }> {
    if (!UUID.test(req.id)) throw notFound();
    // The scope is fixed at start: a cached actor answers without reading the log.
    const cached = this.deps.host.peek(req.id);
    if (cached) {
      if (!sameScope(cached.scope, req.scope)) throw notFound();
      return { id: req.id };
    }
    const first = await this.deps.store.first(req.id);
    const started = first?.events[0];
    if (!started || started.type !== 'ExecutionStarted' || !sameScope(started.scope, req.scope)) throw notFound();
    return { id: req.id };
  }

  async events(req: ExecutionsRpc['events']['req']): Promise<ExecutionsRpc['events']['res']> {
    await this.authorize(req);
    const limit = req.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new JetflowError('VALIDATION_ERROR', 'limit must be an integer 1..10000');
    const from = req.from_seq ?? 1;
    if (!Number.isInteger(from) || from < 1 || from > Number.MAX_SAFE_INTEGER) throw new JetflowError('VALIDATION_ERROR', `from_seq must be an integer 1..${Number.MAX_SAFE_INTEGER}`);
    // One entry more than the page: its sequence is the next page's start.
    const entries = await this.deps.store.read(req.id, from, limit + 1);
    const items = entries.slice(0, limit).flatMap((entry) => entry.events.map((event, i) => ({ id: i ? `${entry.seq}.${i}` : `${entry.seq}`, seq: entry.seq, ...event })));
    return { items, next_seq: entries.length > limit ? entries[limit]!.seq : null };
  }

  list(req: ExecutionsRpc['list']['req']): Promise<ListPage<ExecutionSummaryView>> {
    return this.deps.list(req.scope, req.query ?? {});
  }

  /** A command from a worker or timer (already carrying its time and randomness). */
  /**
   * A command from a worker or timer. `taken`: a step result (CompleteStep / FailStep) is the one
   * the log holds for that step attempt, now or from an earlier delivery of the same result; false
   * when the run had moved on (cancelled, timed out, another attempt) and ignored it.
   */
  async command(req: { execution_id: string; command: ExecutionCommand }): Promise<{ status: ExecutionStatus | 'new'; seq: number; taken: boolean }> {
    if (!UUID.test(req.execution_id)) throw notFound();
    const { state, seq, events } = await this.deps.host.handle(req.execution_id, req.command);
    return { status: state.status, seq, taken: events.length > 0 || resultRecorded(state, req.command) };
  }

  private async scoped(scope: Scope, id: string): Promise<ExecutionState> {
    if (!UUID.test(id)) throw notFound();
    const { state, seq } = await this.deps.host.load(id);
    if (seq === 0 || !sameScope(state.scope, scope)) throw notFound();
    return state;
  }
}

function notFound(): JetflowError {
  return new JetflowError('NOT_FOUND', 'execution not found');
}

function sameScope(a: Scope, b: Scope): boolean {
  return a.organization_id === b.organization_id && a.project_id === b.project_id;
}

function startedView(state: ExecutionState): ExecutionStartedView {
  return { execution_id: state.execution_id, workflow_id: state.workflow_id, status: state.status as ExecutionStatus, started_at: state.started_at ?? '' };
}

/** Same scope + workflow + key → same execution id (a UUID-shaped hash). */
function idempotentId(scope: Scope, workflowId: string, key: string): string {
  const h = createHash('sha256').update(`${scope.organization_id}\n${scope.project_id}\n${workflowId}\n${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function checkExecuteBody(body: unknown): ExecuteBody {
  const details: { path: string; message: string }[] = [];
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new JetflowError('VALIDATION_ERROR', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (b['trigger'] !== undefined && !isObj(b['trigger'])) details.push({ path: 'trigger', message: 'must be an object' });
  if (b['context'] !== undefined && !isObj(b['context'])) details.push({ path: 'context', message: 'must be an object' });
  for (const f of ['user_id', 'session_id']) if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'string') details.push({ path: f, message: 'must be a string' });
  if (details.length) throw new JetflowError('VALIDATION_ERROR', 'invalid execute body', details);
  return b as ExecuteBody;
}

/** The step attempt a result names already ended with exactly that result (a repeated delivery). */
function resultRecorded(state: ExecutionState, c: ExecutionCommand): boolean {
  if (c.type !== 'CompleteStep' && c.type !== 'FailStep') return false;
  const run = state.steps.get(stepKey(c.step_id, c.iteration));
  if (!run || run.attempt !== c.attempt) return false;
  if (c.type === 'FailStep') return run.status === 'failed' && run.error?.code === c.error.code;
  if (run.status === 'completed') return JSON.stringify(run.output) === JSON.stringify(c.output);
  // A rejected approval without an else branch fails its step (and the run) with APPROVAL_REJECTED.
  return run.status === 'failed' && run.error?.code === 'APPROVAL_REJECTED' && (c.output as { decision?: unknown } | null)?.decision === 'rejected';
}
