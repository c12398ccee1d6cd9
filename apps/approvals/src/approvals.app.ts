import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { RpcServer } from '@jetflow/bus';
import { JetflowError } from '@jetflow/contracts';

/**
 * The approvals service shell. Pending approvals (a projection of human_approval steps) come with
 * the control-flow issue; until then it answers the list with no items and refuses decisions.
 */
export async function startApprovalsService(deps: { nc: NatsConnection; logger: Logger }) {
  const rpc = new RpcServer(deps.nc, 'approvals', { logger: { error: (message, err) => deps.logger.error({ err }, message) } });
  rpc.handle('list', async () => ({ items: [], next_cursor: null }));
  rpc.handle('decide', async () => {
    throw new JetflowError('NOT_FOUND', 'approval not found');
  });
  return { stop: () => rpc.close() };
}
