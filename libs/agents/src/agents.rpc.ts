import type { RpcServer } from '@jetflow/bus';
import { agentsOp, type AgentsRpc } from './agent-definition';
import type { AgentsService } from './agents.service';

/** Answers `AgentsRpc` on an RPC server (the workflows service hosts it). */
export function registerAgentsRpc(rpc: RpcServer, service: AgentsService): void {
  rpc.handle<AgentsRpc['create']['req'], unknown>(agentsOp('create'), (r) => service.create(r.scope, r.body));
  rpc.handle<AgentsRpc['get']['req'], unknown>(agentsOp('get'), (r) => service.get(r.scope, r.id));
  rpc.handle<AgentsRpc['list']['req'], unknown>(agentsOp('list'), (r) => service.list(r.scope, r.query ?? {}));
  rpc.handle<AgentsRpc['update']['req'], unknown>(agentsOp('update'), (r) => service.update(r.scope, r.id, r.body));
  rpc.handle<AgentsRpc['delete']['req'], unknown>(agentsOp('delete'), (r) => service.delete(r.scope, r.id));
}
