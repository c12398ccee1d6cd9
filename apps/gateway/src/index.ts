export { createGatewayApp, type GatewayDeps } from './gateway.app';
export { toHttpError } from './common/jetflow-exception.filter';
