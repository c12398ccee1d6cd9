import { conditionPaths, isTemplateRoot, parseCondition, parsePath, scanTemplates, TEMPLATE_ROOTS } from '@jetflow/expressions';
import type { StepDraft } from './step-draft';
import { EXPRESSION_PARAMETERS } from './step-parameters.validator';
import { joinPath, type ValidationIssues } from './validation-issues';

/** Deepest parameter nesting walked; deeper values are reported instead of walked. */
export const MAX_PARAMETER_DEPTH = 32;

interface ReferenceContext {
  readonly step: StepDraft;
  readonly stepIds: ReadonlySet<string>;
  readonly inLoopBody: boolean;
  readonly issues: ValidationIssues;
}

/**
 * Checks every template in a step's parameters: syntax, known roots (`input`, `context`, ...),
 * `steps.<id>` naming an existing step, `loop.*` used only inside a loop body. Conditions are
 * checked through their parsed paths; JSONata expressions are left to their own check.
 */
export function validateTemplateReferences(step: StepDraft, stepIds: ReadonlySet<string>, inLoopBody: boolean, issues: ValidationIssues): void {
  const ctx: ReferenceContext = { step, stepIds, inLoopBody, issues };
  const skip = (step.type && EXPRESSION_PARAMETERS[step.type]) || [];
  const base = `${step.path}.parameters`;
  for (const [key, value] of Object.entries(step.parameters)) {
    if (skip.includes(key)) continue;
    walk(value, joinPath(base, key), 1, ctx);
  }
  const condition = step.type === 'condition' ? step.parameters.condition : undefined;
  if (typeof condition === 'string') {
    let paths: string[] = [];
    try {
      parseCondition(condition);
      paths = conditionPaths(condition);
    } catch {
      // syntax errors are reported by the parameter rules
    }
    for (const path of paths) checkReference(path, joinPath(base, 'condition'), ctx);
  }
}

function walk(value: unknown, path: string, depth: number, ctx: ReferenceContext): void {
  if (typeof value === 'string') return checkString(value, path, ctx);
  if (value === null || typeof value !== 'object') return;
  if (depth > MAX_PARAMETER_DEPTH) {
    ctx.issues.add('INVALID_PARAMETER', path, `parameters nest deeper than ${MAX_PARAMETER_DEPTH} levels`, ctx.step.id);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, depth + 1, ctx));
  else for (const [k, v] of Object.entries(value)) walk(v, joinPath(path, k), depth + 1, ctx);
}

function checkString(value: string, path: string, ctx: ReferenceContext): void {
  const { parts, issues } = scanTemplates(value);
  for (const issue of issues) ctx.issues.add('TEMPLATE_SYNTAX', path, issue.message, ctx.step.id);
  for (const part of parts) if (part.kind === 'template') checkReference(part.path, path, ctx);
}

function checkReference(reference: string, path: string, ctx: ReferenceContext): void {
  const parsed = parsePath(reference);
  if (!parsed.ok) return;
  const [root, second] = parsed.segments;
  if (!isTemplateRoot(root)) {
    ctx.issues.add('UNKNOWN_TEMPLATE_ROOT', path, `template {{${reference}}} starts with unknown root ${JSON.stringify(root)}; use one of ${TEMPLATE_ROOTS.join(', ')}`, ctx.step.id);
  } else if (root === 'steps' && second !== undefined && !ctx.stepIds.has(second)) {
    ctx.issues.add('UNKNOWN_STEP_REFERENCE', path, `template {{${reference}}} refers to step ${JSON.stringify(second)}, which does not exist`, ctx.step.id);
  } else if (root === 'loop' && !ctx.inLoopBody) {
    ctx.issues.add('INVALID_TEMPLATE_REFERENCE', path, `template {{${reference}}} reads loop.*, which only exists inside a loop body`, ctx.step.id);
  }
}
