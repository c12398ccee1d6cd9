export * from './graph/workflow-graph';
export * from './execution/execution.state';
export { decide } from './execution/execution.decider';
export * from './execution/step-kinds';
export * from './execution/template-scope';
export * from './execution/inline-steps';
export * from './execution/execution.view';
export * from './execution/execution.runner';
export * from './validation/index';
