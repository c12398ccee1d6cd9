import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { RpcServer } from '@jetflow/bus';
import { ToolsService, type ToolsRpc } from '@jetflow/tools';

/** The tools service: user tools in PostgreSQL behind `jetflow.rpc.tools.*` (hosted with workflows). */
export async function startToolsService(deps: { nc: NatsConnection; dataSource: DataSource; logger: Logger }): Promise<{ stop(): Promise<void> }> {
  const service = new ToolsService(deps.dataSource);
  const rpc = new RpcServer(deps.nc, 'tools', { logger: { error: (message, err) => deps.logger.error({ err }, message) } });
  rpc.handle<ToolsRpc['create']['req'], unknown>('create', (r) => service.create(r.scope, r.body));
  rpc.handle<ToolsRpc['get']['req'], unknown>('get', (r) => service.get(r.scope, r.id));
  rpc.handle<ToolsRpc['list']['req'], unknown>('list', (r) => service.list(r.scope, r.query ?? {}));
  rpc.handle<ToolsRpc['update']['req'], unknown>('update', (r) => service.update(r.scope, r.id, r.body));
  rpc.handle<ToolsRpc['delete']['req'], unknown>('delete', (r) => service.delete(r.scope, r.id));
  rpc.handle<ToolsRpc['find-by-names']['req'], unknown>('find-by-names', async (r) => ({ items: await service.findByNames(r.scope, Array.isArray(r.names) ? r.names : []) }));
  return { stop: () => rpc.close() };
}
