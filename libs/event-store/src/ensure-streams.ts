import type { NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { SUBJECTS } from '@jetflow/contracts';
import { streamNames, type StreamOptions } from './stream-options';

/** Server error when a stream with that name exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;

type DesiredStream = Partial<StreamConfig> & { name: string; subjects: string[] };

/** The stream configurations Jetflow needs, for these options. */
export function streamConfigs(opts: StreamOptions = {}): DesiredStream[] {
  const names = streamNames(opts);
  const replicas = opts.replicas ?? 1;
  const common = {
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowSeconds(opts) * 1000),
  };
  return [
    {
      ...common,
      name: names.executions,
      subjects: [SUBJECTS.allExecutions],
      retention: RetentionPolicy.Limits,
      max_age: nanos((opts.maxAgeSeconds ?? 0) * 1000),
      // Direct get answers lastSeq()/first() without a consumer.
      allow_direct: true,
    },
    // Work queues: a task or timer is removed once a worker acks it. No max age: an unprocessed
    // task or a far-away timer must never be dropped.
    { ...common, name: names.tasks, subjects: [SUBJECTS.allTasks], retention: RetentionPolicy.Workqueue },
    { ...common, name: names.timers, subjects: [SUBJECTS.allTimers], retention: RetentionPolicy.Workqueue },
  ];
}

/** Default {@link StreamOptions.duplicateWindowSeconds}. */
export const DEFAULT_DUPLICATE_WINDOW_SECONDS = 30;

/** The duplicate window in seconds: the option or the default, never past the executions' max age (the server refuses that). */
function duplicateWindowSeconds(opts: StreamOptions): number {
  const wanted = opts.duplicateWindowSeconds ?? DEFAULT_DUPLICATE_WINDOW_SECONDS;
  return opts.maxAgeSeconds ? Math.min(wanted, opts.maxAgeSeconds) : wanted;
}

/**
 * Creates the EXECUTIONS, TASKS and TIMERS streams, or updates them to the wanted configuration.
 * Idempotent and safe when several processes run it at once at start-up: creating a stream that
 * exists with the same configuration succeeds; one that differs is updated.
 */
export async function ensureStreams(nc: NatsConnection, opts: StreamOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await Promise.all(streamConfigs(opts).map((cfg) => ensureStream(jsm, cfg)));
}

async function ensureStream(jsm: JetStreamManager, cfg: DesiredStream): Promise<void> {
  try {
    await jsm.streams.add(cfg);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NAME_IN_USE) throw err;
    const { name, ...update } = cfg;
    await jsm.streams.update(name, update);
  }
}
