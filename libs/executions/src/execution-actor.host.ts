import { JetflowError, type ExecutionCommand, type ExecutionEvent, type StreamEvent } from '@jetflow/contracts';
import { buildStepTask, decideWithInline, foldEvents, cloneState, isTerminal, workerStarts, type ExecutionState } from '@jetflow/engine';
import { WrongExpectedSequenceError, type EventStore } from '@jetflow/event-store';
import { stepKey } from '@jetflow/contracts';
import type { TaskDispatcher } from './task-dispatcher';

export interface HostLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ActorHostOptions {
  /** Running actors kept in memory (LRU). */
  readonly cacheSize?: number;
  /**
   * Finished actors kept in memory (LRU, default 1,000): enough for the reads that follow a run's end
   * (SSE authorization, a status poll). A finished actor takes no more commands, so keeping thousands
   * of them would only grow the heap every major GC has to mark; one read later folds its log again.
   */
  readonly finishedCacheSize?: number;
  /** Reload-and-decide rounds after losing a compare-and-set race. */
  readonly maxConflictRetries?: number;
  readonly logger?: HostLogger;
}

interface LiveActor {
  state: ExecutionState;
  seq: number;
}

export interface Handled {
  readonly state: ExecutionState;
  readonly events: readonly ExecutionEvent[];
  readonly seq: number;
}

/**
 * Hosts execution actors: keeps live ones cached, serializes commands per execution inside this
 * process, appends each decision as one compare-and-set message and then hands its tasks and timers
 * to the work queues. Any number of hosts may run: the expected-sequence check keeps one writer per
 * round; the loser catches up from its cached sequence and decides again.
 */
export class ExecutionActorHost {
  private readonly cache = new Map<string, LiveActor>();
  private readonly finished = new Map<string, LiveActor>();
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  private readonly counts = { appends: 0, conflicts: 0, started: 0 };
  private readonly ended = new Map<string, number>();
  private readonly cacheSize: number;
  private readonly finishedCacheSize: number;
  private readonly maxRetries: number;

  constructor(
    private readonly store: EventStore,
    private readonly dispatcher: TaskDispatcher,
    private readonly opts: ActorHostOptions = {},
  ) {
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.finishedCacheSize = opts.finishedCacheSize ?? 1_000;
    this.maxRetries = opts.maxConflictRetries ?? 20;
  }

  /** Decides `command` against the execution's current state and appends the result. */
  handle(executionId: string, command: ExecutionCommand, opts: { assumeNew?: boolean } = {}): Promise<Handled> {
    const prev = this.mailboxes.get(executionId) ?? Promise.resolve();
    const next = prev.then(
      () => this.process(executionId, command, opts.assumeNew ?? false),
      () => this.process(executionId, command, opts.assumeNew ?? false),
    );
    const tail = next.catch(() => undefined);
    this.mailboxes.set(executionId, tail);
    void tail.then(() => {
      if (this.mailboxes.get(executionId) === tail) this.mailboxes.delete(executionId);
    });
    return next;
  }

  /**
   * Current state: the cached actor brought up to date with the log (one direct get of the last
   * sequence; other replicas may have appended since this host cached it), else a fold of the log.
   * Caller must not mutate it.
   */
  async load(executionId: string): Promise<{ state: ExecutionState; seq: number }> {
    const cached = this.cached(executionId);
    if (!cached) return this.fold(executionId);
    return (await this.store.lastSeq(executionId)) > cached.seq ? this.catchUp(executionId, cached) : cached;
  }

  /** The cached actor's state, if this host has it (no I/O; may lag behind other replicas). */
  peek(executionId: string): ExecutionState | undefined {
    return this.peekActor(executionId)?.state;
  }

  /** The cached actor (state and the sequence it is at), if this host has it; no I/O. Caller must not mutate it. */
  peekActor(executionId: string): { readonly state: ExecutionState; readonly seq: number } | undefined {
    return this.cached(executionId);
  }

  /** Cached actor as is (may lag behind other replicas' appends), else a fold of the log. */
  private async cachedOrFold(executionId: string): Promise<LiveActor> {
    return this.cached(executionId) ?? this.fold(executionId);
  }

  private async fold(executionId: string): Promise<LiveActor> {
    const entries = await this.store.read(executionId);
    const state = foldEvents(entries.flatMap((e) => e.events));
    const actor = { state, seq: entries.length ? entries[entries.length - 1]!.seq : 0 };
    if (actor.seq > 0) this.remember(executionId, actor);
    return actor;
  }

  /** Publishes tasks/timers for a decision already appended (also used by the recovery sweep). */
  async dispatch(state: ExecutionState, events: readonly ExecutionEvent[]): Promise<void> {
    const work: Promise<void>[] = [];
    for (const e of events) if (e.type === 'ExecutionCompleted' && e.status !== 'completed') work.push(this.dispatcher.runEnded(state.execution_id));
    for (const started of workerStarts(events)) {
      const run = state.steps.get(stepKey(started.step_id, started.iteration));
      if (!run || run.attempt !== started.attempt || run.status !== 'running') continue;
      work.push(this.dispatcher.dispatchTask(buildStepTask(state, run)));
    }
    for (const e of events) if (e.type === 'TimerScheduled') work.push(this.dispatcher.dispatchTimer(state.execution_id, e));
    await Promise.all(work);
  }

  private async process(executionId: string, command: ExecutionCommand, assumeNew: boolean): Promise<Handled> {
    let actor: LiveActor = assumeNew && !this.cached(executionId) ? { state: foldEvents([]), seq: 0 } : await this.cachedOrFold(executionId);
    // A cached state may lag behind another replica's appends. Appends are guarded by the expected
    // sequence, but "nothing to do" and a refusal are not: a result for a step the cache has not
    // seen start decides nothing there (and the worker acks on our answer), a chat message for a
    // step it has not seen waiting is refused. Both are confirmed against the log once.
    let checkedLatest = false;
    for (let round = 0; round <= this.maxRetries; round++) {
      let decided: Awaited<ReturnType<typeof decideWithInline>>;
      try {
        decided = await decideWithInline(actor.state, command);
      } catch (err) {
        if (!(err instanceof JetflowError) || actor.seq === 0 || checkedLatest) throw err;
        checkedLatest = true;
        const newer = await this.newer(executionId, actor);
        if (!newer) throw err;
        actor = newer;
        continue;
      }
      const { events, state } = decided;
      if (!events.length) {
        if (!checkedLatest) {
          checkedLatest = true;
          const newer = await this.newer(executionId, actor);
          if (newer) {
            actor = newer;
            continue;
          }
        }
        return { state: actor.state, events, seq: actor.seq };
      }
      try {
        const { seq, duplicate } = await this.store.append(executionId, events, actor.seq, `${executionId}:${actor.seq}:${commandId(command)}`, journalOf(command));
        actor = { state, seq };
        this.remember(executionId, actor);
        // A duplicate is a retry of an append already made (same message id): counted then.
        if (!duplicate) this.countAppended(events);
        try {
          await this.dispatch(state, events);
        } catch (err) {
          // The log holds the decision; the recovery sweep re-dispatches what did not go out.
          this.opts.logger?.warn({ err, executionId }, 'dispatch after append failed');
        }
        return { state, events, seq };
      } catch (err) {
        const failed = tooLargeResult(command, err);
        if (failed) {
          // Redelivering the result would fail the same way forever (and call the tool again).
          command = failed;
          continue;
        }
        if (!(err instanceof WrongExpectedSequenceError)) throw err;
        this.counts.conflicts++;
        actor = await this.catchUp(executionId, actor);
      }
    }
    throw new JetflowError('CONFLICT', `execution ${executionId} is contended; try again`);
  }

  /**
   * Since construction: decisions appended, appends that lost to another writer (the actor caught up
   * and decided again), runs started and runs ended by final status; actors cached now (running /
   * finished). For metrics.
   */
  stats(): {
    readonly appends: number;
    readonly conflicts: number;
    readonly started: number;
    readonly ended: Readonly<Record<string, number>>;
    readonly cached: { readonly running: number; readonly finished: number };
  } {
    return { ...this.counts, ended: Object.fromEntries(this.ended), cached: { running: this.cache.size, finished: this.finished.size } };
  }

  private countAppended(events: readonly ExecutionEvent[]): void {
    this.counts.appends++;
    for (const e of events) {
      if (e.type === 'ExecutionStarted') this.counts.started++;
      else if (e.type === 'ExecutionCompleted') this.ended.set(e.status, (this.ended.get(e.status) ?? 0) + 1);
    }
  }

  /** The actor caught up with the log when the log holds entries past it, else undefined. */
  private async newer(executionId: string, actor: LiveActor): Promise<LiveActor | undefined> {
    return (await this.store.lastSeq(executionId)) > actor.seq ? this.catchUp(executionId, actor) : undefined;
  }

  private async catchUp(executionId: string, actor: LiveActor): Promise<LiveActor> {
    const entries = await this.store.read(executionId, actor.seq + 1);
    if (!entries.length) return actor;
    const state = cloneState(actor.state);
    for (const entry of entries) foldEvents(entry.events, state);
    const next = { state, seq: entries[entries.length - 1]!.seq };
    this.remember(executionId, next);
    return next;
  }

  private cached(executionId: string): LiveActor | undefined {
    return this.cache.get(executionId) ?? this.finished.get(executionId);
  }

  private remember(executionId: string, actor: LiveActor): void {
    // A read catching up concurrently with a command must not put an older state back.
    const current = this.cached(executionId);
    if (current && current.seq > actor.seq) return;
    this.cache.delete(executionId);
    this.finished.delete(executionId);
    const [map, size] = isTerminal(actor.state) ? [this.finished, this.finishedCacheSize] : [this.cache, this.cacheSize];
    map.set(executionId, actor);
    if (map.size > size) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}

/**
 * A step result whose decision cannot be appended because it is larger than a log message may be
 * (the output, its tool journal, or what it starts): the same step failed instead, not retryable,
 * without the journal. Undefined for every other command or error (a start that is too large is
 * the caller's 413).
 */
function tooLargeResult(command: ExecutionCommand, err: unknown): ExecutionCommand | undefined {
  if (command.type !== 'CompleteStep' || !(err instanceof JetflowError) || err.code !== 'PAYLOAD_TOO_LARGE') return undefined;
  return {
    type: 'FailStep',
    step_id: command.step_id,
    ...(command.iteration ? { iteration: command.iteration } : {}),
    attempt: command.attempt,
    ...(command.chat_turn ? { chat_turn: command.chat_turn } : {}),
    error: { code: 'PAYLOAD_TOO_LARGE', message: `the step's result cannot be recorded: ${err.message}` },
    retryable: false,
    now: command.now,
    rand: 0.5,
  };
}

/** A worker result's journal (stream-only events appended with the decision; dropped with a result that decides nothing). */
function journalOf(c: ExecutionCommand): readonly StreamEvent[] | undefined {
  return c.type === 'CompleteStep' || c.type === 'FailStep' ? c.journal : undefined;
}

/** Stable id of a logical command (with the expected sequence it makes the append's msg id). */
function commandId(c: ExecutionCommand): string {
  switch (c.type) {
    case 'StartExecution':
      return 'start';
    case 'CompleteStep':
    case 'FailStep':
      return `${c.type}:${stepKey(c.step_id, c.iteration)}:${c.attempt}${c.chat_turn ? `:t${c.chat_turn}` : ''}`;
    case 'FireTimer':
      return `timer:${c.timer_id}`;
    case 'CancelExecution':
      return 'cancel';
    case 'AddUserMessage':
      return `message:${c.message_id}`;
  }
}
