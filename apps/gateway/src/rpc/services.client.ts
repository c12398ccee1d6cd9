import type { RpcClient } from '@jetflow/bus';
import type { ExecutionsRpc, ListPage, Scope, WorkflowsRpc } from '@jetflow/contracts';
import type { ToolsRpc } from '@jetflow/tools';
import { agentsOp, type AgentsRpc } from '@jetflow/agents';

/** Approvals' operations as the gateway uses them (the service owns the exact shapes). */
export interface ApprovalsRpc {
  list: { req: { scope: Scope; query: { status?: string; execution_id?: string; workflow_id?: string; limit?: number; cursor?: string } }; res: ListPage<unknown> };
  /** `approver_email`: the `X-elevAIte-UserEmail` header, checked against the approvers with the user id. */
  decide: { req: { scope: Scope; id: string; body: { decision: 'approved' | 'rejected'; comment?: string }; approver_email?: string }; res: unknown };
}

/** Typed calls to the services over NATS request/reply. Errors arrive as coded `JetflowError`s. */
export class ServicesClient {
  constructor(private readonly rpc: RpcClient) {}

  workflows<Op extends keyof WorkflowsRpc>(op: Op, req: WorkflowsRpc[Op]['req']): Promise<WorkflowsRpc[Op]['res']> {
    return this.rpc.request<WorkflowsRpc[Op]['res']>('workflows', op, req);
  }

  /** Agents live in the workflows service (`jetflow.rpc.workflows.agents.<op>`). */
  agents<Op extends keyof AgentsRpc>(op: Op, req: AgentsRpc[Op]['req']): Promise<AgentsRpc[Op]['res']> {
    return this.rpc.request<AgentsRpc[Op]['res']>('workflows', agentsOp(op), req);
  }

  executions<Op extends keyof ExecutionsRpc>(op: Op, req: ExecutionsRpc[Op]['req']): Promise<ExecutionsRpc[Op]['res']> {
    return this.rpc.request<ExecutionsRpc[Op]['res']>('executions', op, req);
  }

  approvals<Op extends keyof ApprovalsRpc>(op: Op, req: ApprovalsRpc[Op]['req']): Promise<ApprovalsRpc[Op]['res']> {
    return this.rpc.request<ApprovalsRpc[Op]['res']>('approvals', op, req);
  }

  tools<Op extends keyof ToolsRpc>(op: Op, req: ToolsRpc[Op]['req']): Promise<ToolsRpc[Op]['res']> {
    return this.rpc.request<ToolsRpc[Op]['res']>('tools', op, req);
  }
}
