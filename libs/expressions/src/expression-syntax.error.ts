/** A syntax problem in a template, condition or JSONata expression; `position` is a 0-based offset into the source. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

/** A JSONata expression that compiled but failed while evaluating (type error, time limit, ...). */
export class ExpressionEvaluationError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = 'ExpressionEvaluationError';
  }
}
