/** Injection tokens for what `createGatewayApp` is handed. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const GATEWAY_LOGGER = Symbol('GATEWAY_LOGGER');
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const HEALTH_CHECK = Symbol('HEALTH_CHECK');
export const CLOCK = Symbol('CLOCK');

export type Clock = () => Date;
export type HealthCheck = () => Promise<boolean>;
