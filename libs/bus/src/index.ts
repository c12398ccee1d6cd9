export { connectNats, type ConnectNatsOptions } from './nats-connection';
export { RpcServer, type RpcService, type RpcServerOptions, type RpcLogger } from './rpc.server';
export { RpcClient, type RpcClientOptions } from './rpc.client';
export { encodeJson, decodeJson } from './json.codec';
export { batchSocketWrites } from './write-batching';
export { ReplyInbox } from './reply-inbox';
export { localTasks, type LocalTaskRunner } from './local-tasks.registry';
export { tooLarge } from './max-payload';
