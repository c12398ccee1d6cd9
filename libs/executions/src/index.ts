export * from './execution-actor.host';
export * from './task-dispatcher';
export * from './executions.service';
export * from './recovery.sweeper';
export * from './definition.cache';
