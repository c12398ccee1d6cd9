import { setFlagsFromString } from 'node:v8';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

// Makes the `l` flag available, so that `runsInLinearTime` can ask V8 whether its linear-time
// engine takes a pattern. Process-wide; it changes nothing for patterns compiled without `l`.
setFlagsFromString('--enable-experimental-regexp-engine');

/**
 * Time a regex that cannot run in linear time may take in the sandbox, for all the matches of one
 * use (one JSONata regex literal evaluated, e.g. every match of a `$match`; one tool-arguments
 * validation), before it is refused.
 */
export const REGEX_MATCH_BUDGET_MS = 500;
/** How long the sandbox thread may take to start; one that did not is not tried again for a while. */
const SANDBOX_START_MS = 2_000;
const SANDBOX_RETRY_MS = 30_000;
/**
 * More quantifiers than this and even the linear engine is slow on a long subject (its work grows
 * with the subject times the square of the quantifiers: 20 × `\s*` over 100,000 spaces took 0.8 s,
 * 40 took 2.9 s): such a pattern runs in the sandbox, with the budget.
 */
const MAX_LINEAR_QUANTIFIERS = 16;
/**
 * Matches of a `g`/`y` regex the sandbox computes ahead in one round trip once the caller iterates
 * (asks for the match after the last one: JSONata's `$match`, `$replace`, `$split` do, one at a time).
 */
const PREFETCH_MATCHES = 4_096;
const PREFETCH_MS = 20;

const LINEAR_CACHE_LIMIT = 500;
const linearVerdicts = new Map<string, boolean>();

/**
 * Whether `re` runs in-process: V8's linear-time engine takes it (it compiles with the `l` flag),
 * so a match backtracking past the limit reruns there (see `safe-regex.ts`), and it has few enough
 * quantifiers for that engine to be quick. One it refuses (lookaround, backreferences, a counted
 * repetition above 16, the `i`, `u`, `v` or `d` flags) would keep backtracking, for hours on a long
 * subject: it runs in the {@link RegexSandbox} instead.
 */
export function runsInLinearTime(re: RegExp): boolean {
  const key = `${re.flags}/${re.source}`;
  let verdict = linearVerdicts.get(key);
  if (verdict === undefined) {
    verdict = quantifiers(re.source) <= MAX_LINEAR_QUANTIFIERS && linearEngineTakes(re);
    if (linearVerdicts.size >= LINEAR_CACHE_LIMIT) linearVerdicts.delete(linearVerdicts.keys().next().value as string);
    linearVerdicts.set(key, verdict);
  }
  return verdict;
}

function linearEngineTakes(re: RegExp): boolean {
  try {
    new RegExp(re.source, `${re.flags}l`);
    return true;
  } catch {
    return false;
  }
}

/** Quantifiers in a pattern source, counted generously (a literal `{` or a lazy `?` counts too). */
function quantifiers(source: string): number {
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
    } else if (c === '*' || c === '+' || c === '{' || (c === '?' && source[i - 1] !== '(')) n++;
  }
  return n;
}

/** The outcome of one sandboxed `exec`. */
export type SandboxedExec =
  | { readonly kind: 'done'; readonly match: RegExpExecArray | null; readonly lastIndex: number }
  /** It did not finish within the time it was given: the thread was replaced. */
  | { readonly kind: 'over-budget' }
  /** The sandbox thread could not be started (it is tried again after a while). */
  | { readonly kind: 'unavailable' };

/** One match as offsets into the subject (`-1` for a group that did not take part). */
interface Found {
  /** Where the match was asked for (`lastIndex` before it). */
  readonly from: number;
  /** Start and end of the match and of each group, in pairs; absent: no match. */
  readonly spans?: number[];
  /** Named groups: name, start, end. */
  readonly names?: [string, number, number][];
  readonly lastIndex: number;
}

interface Reply {
  readonly id: number;
  readonly found?: Found[];
  readonly error?: string;
}

/**
 * The sandbox thread. It keeps the last subject it was sent (a `$match` asks for every match of one
 * subject in turn), compiles each pattern once with `d` added (offsets instead of copies of the
 * matched text: a capture of a 100,000-character subject is then two numbers, not a new string on
 * the caller's heap), and for a `g`/`y` regex computes the next matches ahead, each from where the
 * one before left `lastIndex`. A fixed script of this module: user patterns only ever reach `RegExp`.
 */
const SANDBOX_SCRIPT = `
const { workerData, parentPort } = require('node:worker_threads');
const { port, signal } = workerData;
const word = new Int32Array(signal);
const compiled = new Map();
let subject = '';
const wake = (id) => { Atomics.store(word, 0, id); Atomics.notify(word, 0); };
const one = (re, from) => {
  re.lastIndex = from;
  const r = re.exec(subject);
  if (!r) return { from, lastIndex: re.lastIndex };
  const spans = [];
  for (const p of r.indices) { spans.push(p ? p[0] : -1, p ? p[1] : -1); }
  const names = r.indices.groups ? Object.keys(r.indices.groups).map((k) => { const p = r.indices.groups[k]; return [k, p ? p[0] : -1, p ? p[1] : -1]; }) : undefined;
  return { from, spans, names, lastIndex: re.lastIndex };
};
parentPort.on('message', (m) => {
  let reply;
  try {
    if (m.subject !== undefined) subject = m.subject;
    const key = m.flags + '/' + m.source;
    let re = compiled.get(key);
    if (!re) {
      re = new RegExp(m.source, m.flags.includes('d') ? m.flags : m.flags + 'd');
      if (compiled.size >= 200) compiled.clear();
      compiled.set(key, re);
    }
    const found = [one(re, m.lastIndex)];
    if (re.global || re.sticky) {
      const until = Date.now() + m.aheadMs;
      for (let last = found[0]; last.spans && last.spans[1] > last.spans[0] && found.length < m.ahead && Date.now() < until; ) {
        last = one(re, last.lastIndex);
        found.push(last);
      }
    }
    reply = { id: m.id, found };
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
 * shared word with `Atomics.wait` for at most the time it has left. A match still running then is
 * abandoned: the thread is terminated (V8 interrupts a backtracking match) and the next call starts
 * a fresh one. The event loop is blocked for the budget at worst, not for the hours a polynomial
 * backtrack over a long subject can take. One per process ({@link regexSandbox}).
 */
export class RegexSandbox {
  private thread?: { worker: Worker; port: MessagePort; word: Int32Array };
  /** The subject the thread holds (sent again only when another one is matched). */
  private sent?: string;
  /** Matches computed ahead for the last `g`/`y` regex and subject, by the `lastIndex` they start from. */
  private ahead?: { key: string; subject: string; byFrom: Map<number, Found> };
  /** The last match asked for: the next one starting at its `lastIndex` means the caller iterates. */
  private last?: { key: string; subject: string; lastIndex: number };
  private nextId = 0;
  private unavailableUntil = 0;
  private readonly counts = { done: 0, over_budget: 0, unavailable: 0 };

  /** Matches answered since start, by outcome (for metrics): done, over_budget or unavailable (both refused). */
  stats(): Readonly<Record<'done' | 'over_budget' | 'unavailable', number>> {
    return { ...this.counts };
  }

  /** `re.exec(subject)` from `lastIndex`, in the sandbox, given `budgetMs` at most. */
  exec(re: RegExp, subject: string, lastIndex: number, budgetMs = REGEX_MATCH_BUDGET_MS): SandboxedExec {
    const key = `${re.flags}/${re.source}`;
    const cached = this.ahead?.key === key && this.ahead.subject === subject ? this.ahead.byFrom.get(lastIndex) : undefined;
    if (cached) return this.answer(key, subject, cached);
    if (budgetMs <= 0) return this.refused('over-budget');
    const iterating = this.last?.key === key && this.last.subject === subject && this.last.lastIndex === lastIndex;
    const thread = this.started();
    if (!thread) return this.refused('unavailable');
    // Ids stay positive in the shared Int32 word (-1 means started, 0 waiting).
    const id = (this.nextId = this.nextId >= 0x7ffffffe ? 1 : this.nextId + 1);
    Atomics.store(thread.word, 0, 0);
    const send = this.sent !== subject;
    this.sent = subject;
    thread.worker.postMessage({ id, source: re.source, flags: re.flags, lastIndex, subject: send ? subject : undefined, ahead: iterating ? PREFETCH_MATCHES : 1, aheadMs: Math.min(PREFETCH_MS, budgetMs / 4) });
    const deadline = Date.now() + budgetMs;
    while (Atomics.load(thread.word, 0) !== id) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(thread.word, 0, 0, left) === 'timed-out') {
        if (Atomics.load(thread.word, 0) === id) break;
        this.stop();
        return this.refused('over-budget');
      }
    }
    const reply = receiveMessageOnPort(thread.port)?.message as Reply | undefined;
    if (!reply || reply.id !== id) {
      this.stop();
      throw new Error('regex sandbox: reply missing');
    }
    if (reply.error !== undefined || !reply.found?.length) throw new Error(`regex sandbox: ${reply.error ?? 'no result'}`);
    const [first, ...rest] = reply.found;
    if (rest.length) this.ahead = { key, subject, byFrom: new Map(rest.map((f) => [f.from, f])) };
    return this.answer(key, subject, first!);
  }

  /** Terminates the thread (the next exec starts another). */
  stop(): void {
    if (!this.thread) return;
    void this.thread.worker.terminate();
    this.thread.port.close();
    this.thread = this.sent = this.ahead = undefined;
  }

  private refused(kind: 'over-budget' | 'unavailable'): SandboxedExec {
    this.counts[kind === 'over-budget' ? 'over_budget' : 'unavailable']++;
    return { kind };
  }

  private answer(key: string, subject: string, found: Found): SandboxedExec {
    this.counts.done++;
    this.last = { key, subject, lastIndex: found.lastIndex };
    return { kind: 'done', match: found.spans ? execArray(found, subject) : null, lastIndex: found.lastIndex };
  }

  private started(): RegexSandbox['thread'] {
    if (this.thread || Date.now() < this.unavailableUntil) return this.thread;
    const signal = new SharedArrayBuffer(4);
    const word = new Int32Array(signal);
    const { port1, port2 } = new MessageChannel();
    let worker: Worker;
    try {
      worker = new Worker(SANDBOX_SCRIPT, {
        eval: true,
        workerData: { port: port2, signal },
        transferList: [port2],
        resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
        stdout: false,
        stderr: false,
      });
    } catch {
      this.unavailableUntil = Date.now() + SANDBOX_RETRY_MS;
      return undefined;
    }
    worker.unref();
    const thread = { worker, port: port1, word };
    // A thread that dies (out of memory) leaves its exec without a reply: the next one starts another.
    worker.on('error', () => this.thread === thread && this.stop());
    worker.on('exit', () => this.thread === thread && this.stop());
    // Its start-up events cannot be delivered while this thread waits: the word says it is up.
    if (Atomics.wait(word, 0, 0, SANDBOX_START_MS) === 'timed-out') {
      void worker.terminate();
      port1.close();
      this.unavailableUntil = Date.now() + SANDBOX_RETRY_MS;
      return undefined;
    }
    this.thread = thread;
    this.sent = this.ahead = undefined;
    return thread;
  }
}

function execArray(found: Found, input: string): RegExpExecArray {
  const spans = found.spans!;
  const match = [] as unknown as RegExpExecArray;
  for (let i = 0; i < spans.length; i += 2) match.push(spans[i]! < 0 ? (undefined as unknown as string) : input.slice(spans[i], spans[i + 1]));
  match.index = spans[0]!;
  match.input = input;
  let groups: Record<string, string | undefined> | undefined;
  if (found.names) {
    groups = Object.create(null) as Record<string, string | undefined>;
    for (const [name, start, end] of found.names) groups[name] = start < 0 ? undefined : input.slice(start, end);
  }
  match.groups = groups as RegExpExecArray['groups'];
  return match;
}

/** The process's sandbox, started at its first use. */
export const regexSandbox = new RegexSandbox();
