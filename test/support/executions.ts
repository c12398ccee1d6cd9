import { eventually } from './eventually';
import { http } from './http-client';

/** Polls `GET /api/executions/{id}` until the run reads `completed`; resolves with that view. */
export function completedExecution(baseUrl: string, id: string, timeoutMs = 15_000, intervalMs = 50): Promise<{ status: 'completed'; result?: unknown } & Record<string, unknown>> {
  return eventually(
    async () => {
      const v = await http(baseUrl, 'GET', `/api/executions/${id}`);
      if (v.body?.status !== 'completed') throw new Error(`${id} is ${v.body?.status ?? v.status}`);
      return v.body;
    },
    { timeoutMs, intervalMs },
  );
}
