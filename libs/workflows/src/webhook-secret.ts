import type { WorkflowDefinition } from '@jetflow/contracts';

/**
 * A webhook trigger's `secret` is write-only: views show `secret_configured: true` instead, and an
 * update whose trigger says `secret_configured: true` without a `secret` keeps the current one (so a
 * client can PUT back what it GOT). `secret_configured` itself is never stored.
 */
export function maskWebhookSecret(definition: WorkflowDefinition): WorkflowDefinition {
  if (!definition.steps.some((s) => s.step_type === 'trigger' && ('secret' in s.parameters || 'secret_configured' in s.parameters))) return definition;
  return {
    ...definition,
    steps: definition.steps.map((s) => {
      if (s.step_type !== 'trigger') return s;
      const { secret, secret_configured: _ignored, ...parameters } = s.parameters;
      return { ...s, parameters: typeof secret === 'string' && secret !== '' ? { ...parameters, secret_configured: true } : parameters };
    }),
  };
}

/** The definition to store: `secret_configured` dropped, the previous secret kept where asked. */
export function resolveWebhookSecret(next: WorkflowDefinition, previous?: WorkflowDefinition): WorkflowDefinition {
  const previousSecret = previous?.steps.find((s) => s.step_type === 'trigger')?.parameters['secret'];
  if (!next.steps.some((s) => s.step_type === 'trigger' && 'secret_configured' in s.parameters)) return next;
  return {
    ...next,
    steps: next.steps.map((s) => {
      if (s.step_type !== 'trigger' || !('secret_configured' in s.parameters)) return s;
      const { secret_configured: keep, ...parameters } = s.parameters;
      const carry = keep === true && parameters['secret'] === undefined && parameters['kind'] === 'webhook' && typeof previousSecret === 'string';
      return { ...s, parameters: carry ? { ...parameters, secret: previousSecret } : parameters };
    }),
  };
}
