import type { RpcClient } from '@jetflow/bus';
import type { ListPage, ListQuery, Scope } from '@jetflow/contracts';
import type { ToolCatalog, ToolView } from './tool.types';

/** The tools service's operations (`jetflow.rpc.tools.<op>`). */
export interface ToolsRpc {
  create: { req: { scope: Scope; body: unknown }; res: ToolView };
  get: { req: { scope: Scope; id: string }; res: ToolView };
  list: { req: { scope: Scope; query: ListQuery }; res: ListPage<ToolView> };
  update: { req: { scope: Scope; id: string; body: unknown }; res: ToolView };
  delete: { req: { scope: Scope; id: string }; res: ToolView };
  /** The scope's tools with these names; for step workers and agents (no Postgres there). */
  'find-by-names': { req: { scope: Scope; names: readonly string[] }; res: { items: readonly ToolView[] } };
}

/** The tool catalog over NATS: what `steps` workers use, so they need no database. */
export class RpcToolCatalog implements ToolCatalog {
  constructor(private readonly rpc: RpcClient) {}

  async findByNames(scope: Scope, names: readonly string[]): Promise<readonly ToolView[]> {
    const res = await this.rpc.request<ToolsRpc['find-by-names']['res']>('tools', 'find-by-names', { scope, names } satisfies ToolsRpc['find-by-names']['req']);
    return res.items;
  }
}
