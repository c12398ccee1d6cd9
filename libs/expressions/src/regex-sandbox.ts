import { setFlagsFromString } from 'node:v8';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

// Makes the `l` flag available, so that `runsInLinearTime` can ask V8 whether its linear-time
// engine takes a pattern. Process-wide; it changes nothing for patterns compiled without `l`.
setFlagsFromString('--enable-experimental-regexp-engine');

/** Longest a match that cannot run in linear time may take, in the sandbox, before it is refused. */
export const REGEX_MATCH_BUDGET_MS = 500;
/** How long the sandbox thread may take to start (once per process, and after a refused match). */
const SANDBOX_START_MS = 10_000;

const LINEAR_CACHE_LIMIT = 500;
const linearVerdicts = new Map<string, boolean>();

/**
 * Whether V8's linear-time engine can run `re` (it compiles with the `l` flag). Such a pattern is
 * run in-process: past a number of backtracks V8 reruns the match on that engine (see
 * `safe-regex.ts`). One it refuses (lookaround, backreferences, a counted repetition above 16, the
 * `i`, `u`, `v` or `d` flags) would keep backtracking, for hours on a long subject: it runs in the
 * {@link RegexSandbox} instead.
 */
export function runsInLinearTime(re: RegExp): boolean {
  const key = `${re.flags}/${re.source}`;
  let verdict = linearVerdicts.get(key);
  if (verdict === undefined) {
    try {
      new RegExp(re.source, `${re.flags}l`);
      verdict = true;
    } catch {
      verdict = false;
    }
    if (linearVerdicts.size >= LINEAR_CACHE_LIMIT) linearVerdicts.delete(linearVerdicts.keys().next().value as string);
    linearVerdicts.set(key, verdict);
  }
  return verdict;
}

/** The outcome of one sandboxed `exec`. */
export type SandboxedExec =
  | { readonly kind: 'done'; readonly match: RegExpExecArray | null; readonly lastIndex: number }
  | { readonly kind: 'over-budget' };

interface ExecReply {
  readonly id: number;
  readonly match?: string[] | null;
  readonly index?: number;
  readonly groups?: Record<string, string | undefined>;
  readonly lastIndex?: number;
  readonly error?: string;
}

/**
 * The sandbox thread: compiles each pattern once (bounded cache), runs one `exec` per message,
 * posts the result on its reply port, then wakes the waiting caller through the shared word. A
 * fixed script of this module (no user input is evaluated): user patterns only ever reach `RegExp`.
 */
const SANDBOX_SCRIPT = `
const { workerData, parentPort } = require('node:worker_threads');
const { port, signal } = workerData;
const word = new Int32Array(signal);
const compiled = new Map();
const wake = (id) => { Atomics.store(word, 0, id); Atomics.notify(word, 0); };
parentPort.on('message', (m) => {
  let reply;
  try {
    const key = m.flags + '/' + m.source;
    let re = compiled.get(key);
    if (!re) {
      re = new RegExp(m.source, m.flags);
      if (compiled.size >= 200) compiled.clear();
      compiled.set(key, re);
    }
    re.lastIndex = m.lastIndex;
    const r = re.exec(m.subject);
    reply = { id: m.id, match: r && Array.from(r), index: r ? r.index : -1, groups: r && r.groups ? Object.assign({}, r.groups) : undefined, lastIndex: re.lastIndex };
  } catch (e) {
    reply = { id: m.id, error: String((e && e.message) || e) };
  }
  port.postMessage(reply);
  wake(m.id);
});
wake(-1);
`;

/**
 * Runs regex matches that V8 cannot run in linear time on a thread of their own, synchronously
 * (JSONata's and Ajv's regex engines are synchronous): the caller posts the match and waits on a
 * shared word with `Atomics.wait` for at most {@link REGEX_MATCH_BUDGET_MS}. A match still running
 * then is abandoned: the thread is terminated (V8 interrupts a backtracking match) and the next
 * call starts a fresh one. The event loop is blocked for the budget at worst, not for the hours a
 * polynomial backtrack over a long subject can take. One per process ({@link regexSandbox}).
 */
export class RegexSandbox {
  private worker?: Worker;
  private port?: MessagePort;
  private word?: Int32Array;
  private nextId = 0;

  constructor(private readonly budgetMs = REGEX_MATCH_BUDGET_MS) {}

  /** `re.exec(subject)` from `lastIndex`, in the sandbox; `over-budget` when it ran out of time. */
  exec(re: RegExp, subject: string, lastIndex: number): SandboxedExec {
    const { worker, port, word } = this.started();
    const id = ++this.nextId;
    Atomics.store(word, 0, 0);
    worker.postMessage({ id, source: re.source, flags: re.flags, subject, lastIndex });
    const deadline = Date.now() + this.budgetMs;
    while (Atomics.load(word, 0) !== id) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(word, 0, 0, left) === 'timed-out') {
        if (Atomics.load(word, 0) === id) break;
        this.stop();
        return { kind: 'over-budget' };
      }
    }
    const reply = receiveMessageOnPort(port)?.message as ExecReply | undefined;
    if (!reply || reply.id !== id) throw new Error('regex sandbox: reply missing');
    if (reply.error !== undefined) throw new SyntaxError(reply.error);
    return { kind: 'done', match: reply.match ? execArray(reply, subject) : null, lastIndex: reply.lastIndex ?? 0 };
  }

  /** Terminates the thread (the next exec starts another). */
  stop(): void {
    void this.worker?.terminate();
    this.port?.close();
    this.worker = this.port = this.word = undefined;
  }

  private started(): { worker: Worker; port: MessagePort; word: Int32Array } {
    if (this.worker && this.port && this.word) return { worker: this.worker, port: this.port, word: this.word };
    const signal = new SharedArrayBuffer(4);
    const word = new Int32Array(signal);
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(SANDBOX_SCRIPT, {
      eval: true,
      workerData: { port: port2, signal },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    // A thread that dies (out of memory) leaves the next exec without a reply: start again then.
    worker.on('error', () => this.worker === worker && this.stop());
    worker.on('exit', () => this.worker === worker && this.stop());
    if (Atomics.wait(word, 0, 0, SANDBOX_START_MS) === 'timed-out') {
      void worker.terminate();
      throw new Error(`regex sandbox did not start within ${SANDBOX_START_MS} ms`);
    }
    this.worker = worker;
    this.port = port1;
    this.word = word;
    return { worker, port: port1, word };
  }
}

function execArray(reply: ExecReply, input: string): RegExpExecArray {
  const match = reply.match as unknown as RegExpExecArray;
  match.index = reply.index ?? 0;
  match.input = input;
  match.groups = reply.groups as RegExpExecArray['groups'];
  return match;
}

/** The process's sandbox, started at its first use. */
export const regexSandbox = new RegexSandbox();
