const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON → bytes for NATS payloads (one shared TextEncoder). */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Bytes → JSON from NATS payloads (one shared TextDecoder). An empty payload decodes to `undefined`. */
export function decodeJson<T = unknown>(data: Uint8Array): T {
  if (data.length === 0) return undefined as T;
  return JSON.parse(decoder.decode(data)) as T;
}
