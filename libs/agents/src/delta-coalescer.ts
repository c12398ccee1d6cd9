/**
 * Coalesces streamed text into few appends: the first chunk after a flush arms a timer, and
 * everything that arrives until it fires goes out as one entry, so a token is at most `windowMs`
 * late. Appends run one at a time in order; `drain()` flushes the rest and reports any failure.
 */
export class DeltaCoalescer {
  private buffer = '';
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly write: (content: string) => Promise<void>,
    private readonly windowMs = 50,
  ) {}

  push(text: string): void {
    if (!text) return;
    this.buffer += text;
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** Flushes what is buffered and waits for every append so far. */
  async drain(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Drops anything not yet written (the call failed; the attempt will not continue). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = '';
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer) return;
    const content = this.buffer;
    this.buffer = '';
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await this.write(content);
      } catch (err) {
        this.failure = err;
      }
    });
  }
}
