export { Scheduler, type SchedulerDeps, type SchedulerOptions, type SchedulerLogger } from './scheduler';
export { ScheduleStateStore, type ScheduleMark } from './schedule-state.store';
export { dueTicks, type DueTicksOptions } from './schedule-ticks';
