import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { RpcServer } from '@jetflow/bus';
import { SUBJECTS, type Scope, type WorkflowsRpc } from '@jetflow/contracts';
import { validateWorkflow } from '@jetflow/engine';
import { WorkflowsService, WorkflowTriggersQuery } from '@jetflow/workflows';
import { AgentsService, registerAgentsRpc } from '@jetflow/agents';

export interface RunningService {
  stop(): Promise<void>;
}

/** The workflows service: versioned definitions in PostgreSQL behind `jetflow.rpc.workflows.*`. */
export async function startWorkflowsService(deps: { nc: NatsConnection; dataSource: DataSource; logger: Logger }): Promise<RunningService> {
  const service = new WorkflowsService(deps.dataSource, validateWorkflow);
  const rpc = new RpcServer(deps.nc, 'workflows', { logger: { error: (message, err) => deps.logger.error({ err }, message) } });
  rpc.handle<WorkflowsRpc['create']['req'], unknown>('create', (r) => service.create(r.scope, r.body));
  rpc.handle<WorkflowsRpc['get']['req'], unknown>('get', (r) => service.get(r.scope, r.id, r.version));
  rpc.handle<WorkflowsRpc['list']['req'], unknown>('list', (r) => service.list(r.scope, r.query ?? {}));
  // Executions cache current definitions: tell them after the commit, before the caller is answered.
  // The flush returns once the server has routed the notice to every subscriber (this connection's
  // own callbacks included), so any request the answer leads to arrives after it.
  const changed = async <T extends { id: string }>(view: T): Promise<T> => {
    deps.nc.publish(SUBJECTS.workflowChanged(view.id));
    await deps.nc.flush();
    return view;
  };
  rpc.handle<WorkflowsRpc['update']['req'], unknown>('update', async (r) => changed(await service.update(r.scope, r.id, r.body)));
  rpc.handle<WorkflowsRpc['archive']['req'], unknown>('archive', async (r) => changed(await service.archive(r.scope, r.id)));
  rpc.handle<WorkflowsRpc['validate']['req'], unknown>('validate', (r) => service.validate(r.scope, r.body));
  const triggers = new WorkflowTriggersQuery(deps.dataSource);
  rpc.handle<WorkflowsRpc['hook-target']['req'], unknown>('hook-target', (r) => triggers.hookTarget(r.id));
  rpc.handle<WorkflowsRpc['schedules']['req'], unknown>('schedules', () => triggers.activeSchedules());
  rpc.handle<{ scope: Scope; id: string }, unknown>('definition', (r) => service.getDefinition(r.scope, r.id));
  registerAgentsRpc(rpc, new AgentsService(deps.dataSource));
  rpc.handle<unknown, unknown>('health', async () => {
    await deps.dataSource.query('SELECT 1');
    return { ok: true };
  });
  return { stop: () => rpc.close() };
}
