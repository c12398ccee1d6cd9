import { JetflowError, toErrorBody, type Scope } from '@jetflow/contracts';
import { BUILTIN_TOOLS, isBuiltinTool } from './builtin-tools';
import { httpCall } from './http-call';
import { argumentErrors } from './json-schema';
import { resolveSecrets } from './secrets';
import type { ToolCallContext, ToolDescription, ToolInvocationResult, ToolsDeps, ToolView } from './tool.types';

/**
 * Calls a tool by name in a scope: a built-in, or the scope's user tool (its HTTP endpoint, through
 * the outbound guard). Arguments are validated against the tool's `input_schema` first: invalid →
 * terminal TOOL_ERROR with one detail per problem, nothing called. Never throws.
 */
export async function invokeTool(deps: ToolsDeps, scope: Scope, name: string, args: unknown, ctx: ToolCallContext): Promise<ToolInvocationResult> {
  try {
    if (isBuiltinTool(name)) {
      const tool = BUILTIN_TOOLS[name]!;
      const invalid = validateArgs(name, tool.input_schema, args);
      if (invalid) return invalid;
      return await tool.run(args as Record<string, unknown>, deps, ctx);
    }
    const [tool] = await deps.catalog.findByNames(scope, [name]);
    if (!tool) return { ok: false, error: { code: 'TOOL_ERROR', message: `unknown tool ${name}` }, retryable: false };
    const invalid = validateArgs(name, tool.input_schema, args);
    if (invalid) return invalid;
    return await callEndpoint(deps, tool, args as Record<string, unknown>, ctx);
  } catch (err) {
    // The catalog being unreachable is worth a retry; a coded error is what it says.
    const error = toErrorBody(err, 'TOOL_ERROR');
    return { ok: false, error, retryable: !(err instanceof JetflowError) || error.code === 'UNAVAILABLE' };
  }
}

/**
 * Name, description and input schema of each named tool (built-in or the scope's), in order, for
 * LLM function definitions. Unknown names → JetflowError TOOL_ERROR listing them.
 */
export async function describeTools(deps: ToolsDeps, scope: Scope, names: readonly string[]): Promise<ToolDescription[]> {
  const userNames = names.filter((n) => !isBuiltinTool(n));
  const found = userNames.length ? await deps.catalog.findByNames(scope, [...new Set(userNames)]) : [];
  const byName = new Map(found.map((t) => [t.name, t]));
  const missing = userNames.filter((n) => !byName.has(n));
  if (missing.length) {
    throw new JetflowError(
      'TOOL_ERROR',
      `unknown tool${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      missing.map((n) => ({ path: 'tools', message: `no built-in or registered tool named ${n}` })),
    );
  }
  return names.map((n) => {
    const b = BUILTIN_TOOLS[n];
    if (b && isBuiltinTool(n)) return { name: n, description: b.description, input_schema: b.input_schema };
    const t = byName.get(n)!;
    return { name: t.name, description: t.description, input_schema: t.input_schema };
  });
}

function validateArgs(name: string, schema: Readonly<Record<string, unknown>>, args: unknown): ToolInvocationResult | null {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, error: { code: 'TOOL_ERROR', message: `arguments of ${name} must be an object`, details: [{ path: 'arguments', message: 'expected an object' }] }, retryable: false };
  }
  const details = argumentErrors(schema, args);
  if (!details.length) return null;
  return { ok: false, error: { code: 'TOOL_ERROR', message: `arguments do not match the input_schema of ${name}`, details }, retryable: false };
}

async function callEndpoint(deps: ToolsDeps, tool: ToolView, args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolInvocationResult> {
  const { value: endpoint, used } = resolveSecrets(tool.endpoint, deps.secrets ?? {}, 'all');
  const headers: Record<string, string> = { 'idempotency-key': ctx.idempotencyKey, accept: 'application/json' };
  for (const [k, v] of Object.entries(endpoint.headers ?? {})) headers[k.toLowerCase()] = v;
  let url = endpoint.url;
  let body: string | undefined;
  if (endpoint.method === 'GET' || endpoint.method === 'DELETE') {
    const u = new URL(url);
    for (const [k, v] of Object.entries(args)) u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    url = u.toString();
  } else {
    body = JSON.stringify(args);
    headers['content-type'] = 'application/json';
  }
  const res = await httpCall(
    { url, method: endpoint.method, headers, body, timeoutMs: ctx.timeoutMs ?? 30_000, maxResponseBytes: deps.maxResponseBytes, signal: ctx.signal, secretValues: used },
    { policy: deps.outbound, resolver: deps.resolver },
    { secretValues: used, now: deps.clock },
  );
  // A user tool's result is what its endpoint answered.
  return res.ok ? { ok: true, result: res.result.body ?? null } : res;
}
