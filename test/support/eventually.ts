/** Poll `probe` until it stops throwing (or returns truthy); never a fixed sleep. */
export async function eventually<T>(probe: () => Promise<T> | T, { timeoutMs = 15_000, intervalMs = 25 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== false && value !== undefined && value !== null) return value;
      lastError = new Error('probe returned ' + String(value));
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
