import type { NatsConnection } from '@nats-io/transport-node';
import type { StepTask } from '@jetflow/contracts';

/** A step worker in this process that can take a task without the work queue. */
export interface LocalTaskRunner {
  /**
   * Starts `task` now (`'started'`), finds it already running here (`'running'`: a repeat, dropped
   * as the queue's message id would drop it), or returns false (full, stopping) and the caller
   * queues it. A worker that cannot get the result recorded hands the task to the queue with `requeue`.
   */
  tryRun(task: StepTask, requeue: () => Promise<void>): 'started' | 'running' | false;
}

const runners = new WeakMap<NatsConnection, LocalTaskRunner>();

/**
 * Step workers running in this process, per NATS connection (as {@link localRpc} does for RPC
 * servers). When the actor host and a steps worker share a connection (all services in one
 * process), a task goes straight to the worker: no publish and ack, no delivery, no worker ack.
 * The log already holds the step's start, and the recovery sweep re-dispatches a task that no live
 * worker holds (see `TaskDispatcher.isHeld`), so a crash loses nothing.
 */
export const localTasks = {
  register(nc: NatsConnection, runner: LocalTaskRunner): void {
    runners.set(nc, runner);
  },
  unregister(nc: NatsConnection, runner: LocalTaskRunner): void {
    if (runners.get(nc) === runner) runners.delete(nc);
  },
  find(nc: NatsConnection): LocalTaskRunner | undefined {
    return runners.get(nc);
  },
};
