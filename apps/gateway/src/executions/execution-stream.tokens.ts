export const EVENT_STORE = Symbol('EVENT_STORE');
/** The process's one shared live feed of the EXECUTIONS stream (`ExecutionFeed`), followed by every SSE stream. */
export const EXECUTION_FEED = Symbol('EXECUTION_FEED');
