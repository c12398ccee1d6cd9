import { z } from 'zod';
import type { ListPage, ListQuery, Scope } from '@jetflow/contracts';

/** One scripted reply of a `mock` provider: streamed text, or tool calls the agent must run. */
const mockTurn = z.union([
  z.strictObject({ content: z.string() }),
  z.strictObject({
    tool_calls: z
      .array(z.strictObject({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()).default({}) }))
      .min(1, 'expected at least one tool call'),
  }),
]);

const provider = z.strictObject({
  kind: z.enum(['openai', 'mock'], { message: 'expected openai or mock' }),
  /**
   * OpenAI-compatible endpoint; defaults to OPENAI_BASE_URL, then OpenAI's. An agent's own endpoint
   * never receives OPENAI_API_KEY: it gets `api_key_secret`'s key, or no Authorization header.
   */
  base_url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
  /** Name of a secret in SECRETS holding the API key; defaults to OPENAI_API_KEY on the operator's endpoint only. */
  api_key_secret: z.string().min(1).max(200).optional(),
});

/** The body of `POST/PUT /api/agents`. */
export const agentBodySchema = z
  .strictObject({
    name: z.string().trim().min(1, 'required').max(200),
    description: z.string().max(2000).optional(),
    system_prompt: z.string().max(100_000).default(''),
    model: z.string().min(1).max(200).default('gpt-4o-mini'),
    tools: z.array(z.string().min(1).max(200)).max(128).default([]),
    temperature: z.number().min(0).max(2).optional(),
    provider: provider.default({ kind: 'openai' }),
    mock: z
      .strictObject({
        script: z.array(mockTurn).min(1, 'expected at least one scripted turn').max(1000),
        /** Characters per streamed chunk (default 4). */
        chunk_size: z.number().int().min(1).max(10_000).optional(),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (a.provider.kind === 'mock' && !a.mock) ctx.addIssue({ code: 'custom', path: ['mock'], message: 'required when provider.kind is mock' });
  });

export type AgentSettings = z.output<typeof agentBodySchema>;
export type MockTurn = z.output<typeof mockTurn>;

/** An agent as the API shows it. */
export interface AgentView extends AgentSettings {
  readonly id: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/**
 * Agents' operations, answered by the workflows service on `jetflow.rpc.workflows.agents.<op>`
 * (agents live next to the definitions that reference them).
 */
export interface AgentsRpc {
  create: { req: { scope: Scope; body: unknown }; res: AgentView };
  get: { req: { scope: Scope; id: string }; res: AgentView };
  list: { req: { scope: Scope; query: ListQuery }; res: ListPage<AgentView> };
  update: { req: { scope: Scope; id: string; body: unknown }; res: AgentView };
  delete: { req: { scope: Scope; id: string }; res: AgentView };
}

/** Op name on the workflows service's RPC subjects. */
export const agentsOp = (op: keyof AgentsRpc): string => `agents.${op}`;
