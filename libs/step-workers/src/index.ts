export * from './step-handler';
export * from './step-task.worker';
export * from './duration-histogram';
export * from './timer.worker';
export * from './tool-call.handler';
export * from './api-call.handler';
import { apiCallHandler } from './api-call.handler';
import type { StepHandlers } from './step-handler';
import { toolCallHandler } from './tool-call.handler';

/** The handlers the `steps` service runs by default. */
export const DEFAULT_HANDLERS: StepHandlers = {
  tool_call: toolCallHandler,
  api_call: apiCallHandler,
};
