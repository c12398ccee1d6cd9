export { invokeTool, describeTools } from './tool.invoker';
export type { ToolCatalog, ToolCallContext, ToolDescription, ToolEndpoint, ToolInvocationResult, ToolsDeps, ToolView, ToolHttpMethod } from './tool.types';
export { TOOL_HTTP_METHODS } from './tool.types';
export { BUILTIN_TOOLS, isBuiltinTool, type BuiltinTool } from './builtin-tools';
export { ToolsService, toToolView } from './tools.service';
export { RpcToolCatalog, type ToolsRpc } from './tools.rpc';
export { inputSchemaErrors, argumentErrors } from './json-schema';
export {
  checkOutboundUrl,
  classifyAddress,
  systemResolver,
  OutboundRefusedError,
  type AddressClass,
  type HostResolver,
  type OutboundPolicy,
  type OutboundTarget,
  type ResolvedAddress,
} from './outbound-guard';
export { sendOutbound, parseRetryAfter, isRetryableStatus, MAX_REDIRECTS, DEFAULT_MAX_RESPONSE_BYTES, type OutboundRequest, type OutboundResponse, type OutboundDeps } from './outbound-http';
export { httpCall, type HttpCallOutcome, type HttpCallOptions } from './http-call';
export { resolveSecrets, resolveSecretSlots, redactSecrets, secretNames, REDACTED, type WithSecrets } from './secrets';
export { SecretsByScope, type ScopedSecrets } from './scoped-secrets';
