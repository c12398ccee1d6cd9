export { EventStore, JOURNAL_INLINE_MAX_BYTES } from './event-store';
export { ensureStreams, streamConfigs } from './ensure-streams';
export { streamNames, type StreamOptions } from './stream-options';
export type { StoredEntry, LogFollower } from './stored-entry';
export { WrongExpectedSequenceError } from './wrong-expected-sequence.error';
export { ExecutionFeed, type ExecutionFeedOptions, type FeedListener, type FeedLogger, type FeedSubscription } from './execution-feed';
export { JetStreamPublisher, type PublishOptions } from './jetstream-publisher';
