export * from './workflow-definition';
export * from './errors';
export * from './execution-events';
export * from './execution-commands';
export * from './tasks';
export * from './subjects';
export * from './rpc';
