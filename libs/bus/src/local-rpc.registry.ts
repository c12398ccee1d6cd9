import type { NatsConnection } from '@nats-io/transport-node';
import type { RpcReply } from '@jetflow/contracts';

/** Answers one request (already decoded) the way the server would over NATS. */
export type LocalRpcHandler = (req: unknown) => Promise<RpcReply<unknown>>;

const registries = new WeakMap<NatsConnection, Map<string, LocalRpcHandler>>();

/**
 * RPC operations served in this process, per NATS connection. When the client and the server of an
 * operation share a connection (all services in one process), the client calls the handler
 * directly: same JSON copy of request and reply, same error mapping, same timeout — but no publish,
 * no reply inbox, no socket write, no server hop. Servers on other connections or processes are
 * reached over NATS as before.
 */
export const localRpc = {
  register(nc: NatsConnection, subject: string, handler: LocalRpcHandler): void {
    let registry = registries.get(nc);
    if (!registry) registries.set(nc, (registry = new Map()));
    registry.set(subject, handler);
  },
  unregister(nc: NatsConnection, subject: string, handler: LocalRpcHandler): void {
    const registry = registries.get(nc);
    if (registry?.get(subject) === handler) registry.delete(subject);
  },
  find(nc: NatsConnection, subject: string): LocalRpcHandler | undefined {
    return registries.get(nc)?.get(subject);
  },
};
