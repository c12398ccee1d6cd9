import type { NatsConnection } from '@nats-io/transport-node';
import { SUBJECTS, subjectToken, type StepTask, type TimerScheduled, type TimerTask } from '@jetflow/contracts';
import { encodeJson } from '@jetflow/bus';
import { JetStreamPublisher } from '@jetflow/event-store';

/**
 * Publishes step tasks and timers to their JetStream work queues. Message ids make a repeat
 * (host retry, recovery sweep) a no-op inside the duplicate window.
 */
export class TaskDispatcher {
  private readonly publisher: JetStreamPublisher;
  constructor(nc: NatsConnection) {
    this.publisher = new JetStreamPublisher(nc);
  }

  static taskSubject(task: Pick<StepTask, 'execution_id' | 'idempotency_key'>): string {
    return SUBJECTS.task(task.execution_id, subjectToken(task.idempotency_key));
  }

  static timerSubject(executionId: string, timerId: string): string {
    return SUBJECTS.timer(executionId, subjectToken(timerId));
  }

  /**
   * `redispatch` (the recovery sweep's mark, e.g. the log sequence it checked) gives the copy its own
   * message id: a task that went missing after its first publish must not be dropped as a duplicate
   * of it for the whole duplicate window. Sweeps marking the same log position still dedupe.
   */
  async dispatchTask(task: StepTask, redispatch?: string): Promise<void> {
    const msgID = `task:${task.idempotency_key}${redispatch === undefined ? '' : `:re:${redispatch}`}`;
    await this.publisher.publish(TaskDispatcher.taskSubject(task), encodeJson(task), { msgID });
  }

  async dispatchTimer(executionId: string, timer: TimerScheduled, redispatch?: string): Promise<void> {
    const msg: TimerTask = { execution_id: executionId, timer_id: timer.timer_id, fire_at: timer.fire_at };
    const msgID = `timer:${executionId}:${timer.timer_id}${redispatch === undefined ? '' : `:re:${redispatch}`}`;
    await this.publisher.publish(TaskDispatcher.timerSubject(executionId, timer.timer_id), encodeJson(msg), { msgID });
  }
}
