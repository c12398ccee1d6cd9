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
/** How long the sandbox thread may take to start (not charged to the caller); one that did not is not tried again for a while. */
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
/** How much longer than {@link PREFETCH_MS} the next caller waits for matches computed ahead before replacing the thread. */
const AHEAD_SLACK_MS = 30;

/**
 * Whether `re` runs in-process: V8's linear-time engine takes it (it compiles with the `l` flag),
 * so a match backtracking past the limit reruns there (see `safe-regex.ts`), and it has few enough
 * quantifiers for that engine to be quick. One it refuses (lookaround, backreferences, a counted
 * repetition above 16, the `i`, `u`, `v` or `d` flags) would keep backtracking, for hours on a long
 * subject: it runs in the {@link RegexSandbox} instead. Compiles the pattern: callers keep the answer
 * (GuardedRegExp's plans, Ajv's compiled schemas).
 */
export function runsInLinearTime(re: RegExp): boolean {
  return quantifiers(re.source) <= MAX_LINEAR_QUANTIFIERS && linearEngineTakes(re);
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
  /** The use's budget ran out before the match finished: the thread was replaced. */
  | { readonly kind: 'over-budget' }
  /** The sandbox thread could not be started (it is tried again after a while). */
  | { readonly kind: 'unavailable' };

/** Why a use was refused, for messages: `<pattern> refused: <this>`. */
export function sandboxRefusal(kind: Exclude<SandboxedExec['kind'], 'done'>): string {
  return kind === 'over-budget' ? `its matches took longer than ${REGEX_MATCH_BUDGET_MS} ms` : 'the regex sandbox is unavailable';
}

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
  readonly found?: Found;
  /** Matches computed after the answer, sent in a message of their own. */
  readonly ahead?: Found[];
  readonly error?: string;
}

/**
 * One use of a regex (one JSONata regex literal evaluated: every match of a `$match`; one
 * tool-arguments validation): the sandbox time it has had, out of its budget, and the matches the
 * sandbox computed ahead for it. Iterations of different uses interleave (JSONata awaits between
 * matches) without disturbing each other.
 */
export class RegexCursor {
  /** Time charged so far: from posting a match to its answer (not the thread's start-up). */
  spentMs = 0;
  /** Matches computed ahead, for this subject, by the `lastIndex` they start from. */
  ahead?: { readonly subject: string; readonly byFrom: Map<number, Found> };
  /** The last match answered: a request starting at its `lastIndex` means the caller iterates. */
  last?: { readonly subject: string; readonly lastIndex: number };

  constructor(readonly budgetMs = REGEX_MATCH_BUDGET_MS) {}
}

/** Subjects the thread keeps (by id, oldest dropped first); the caller mirrors the same list. */
const KEPT_SUBJECTS = 8;

/**
 * The sandbox thread. It keeps the last few subjects it was sent (a `$match` asks for every match of
 * one subject in turn), compiles each pattern once with `d` added (offsets instead of copies of the
 * matched text: a capture of a 100,000-character subject is then two numbers, not a new string on
 * the caller's heap), answers the match asked for at once and then, when asked to, computes the
 * following matches of a `g`/`y` regex, each from where the one before left `lastIndex`, and sends
 * them in a second message (word 1 says they are done). A fixed script of this module: user
 * patterns only ever reach `RegExp`.
 */
const SANDBOX_SCRIPT = `
const { workerData, parentPort } = require('node:worker_threads');
const { port, signal } = workerData;
const word = new Int32Array(signal);
const compiled = new Map();
const subjects = new Map();
const wake = (slot, id) => { Atomics.store(word, slot, id); Atomics.notify(word, slot); };
const one = (re, subject, from) => {
  re.lastIndex = from;
  const r = re.exec(subject);
  if (!r) return { from, lastIndex: re.lastIndex };
  const spans = [];
  for (const p of r.indices) { spans.push(p ? p[0] : -1, p ? p[1] : -1); }
  const names = r.indices.groups ? Object.keys(r.indices.groups).map((k) => { const p = r.indices.groups[k]; return [k, p ? p[0] : -1, p ? p[1] : -1]; }) : undefined;
  return { from, spans, names, lastIndex: re.lastIndex };
};
parentPort.on('message', (m) => {
  let re, subject, found;
  try {
    if (m.subject !== undefined) {
      subjects.set(m.subjectId, m.subject);
      if (subjects.size > ${KEPT_SUBJECTS}) subjects.delete(subjects.keys().next().value);
    }
    subject = subjects.get(m.subjectId);
    if (subject === undefined) throw new Error('unknown subject');
    const key = m.flags + '/' + m.source;
    re = compiled.get(key);
    if (!re) {
      re = new RegExp(m.source, m.flags.includes('d') ? m.flags : m.flags + 'd');
      if (compiled.size >= 200) compiled.clear();
      compiled.set(key, re);
    }
    found = one(re, subject, m.lastIndex);
    port.postMessage({ id: m.id, found });
  } catch (e) {
    port.postMessage({ id: m.id, error: String((e && e.message) || e) });
    wake(0, m.id);
    return;
  }
  wake(0, m.id);
  if (m.ahead > 0 && (re.global || re.sticky)) {
    const ahead = [];
    const until = Date.now() + m.aheadMs;
    for (let last = found; last.spans && last.spans[1] > last.spans[0] && ahead.length < m.ahead && Date.now() < until; ) {
      last = one(re, subject, last.lastIndex);
      ahead.push(last);
    }
    port.postMessage({ id: m.id, ahead });
    wake(1, m.id);
  }
});
wake(0, -1);
`;

interface Thread {
  readonly worker: Worker;
  readonly port: MessagePort;
  /** [0]: the id of the last answer (-1 once started, 0 while waiting); [1]: of the last matches computed ahead. */
  readonly word: Int32Array;
  ready: boolean;
  /** Subjects the thread keeps, by content, in the order it will drop them. */
  readonly subjects: Map<string, number>;
  /** Matches being computed ahead after an answer, and for whom. */
  pendingAhead?: { readonly id: number; readonly cursor: RegexCursor; readonly subject: string };
}

/**
 * Runs regex matches that V8 cannot run in linear time on a thread of their own, synchronously
 * (JSONata's and Ajv's regex engines are synchronous): the caller posts the match and waits on a
 * shared word with `Atomics.wait` for at most what its use has left of the budget. A match still
 * running then is abandoned: the thread is terminated (V8 interrupts a backtracking match), the
 * match refused, and another thread started at once in the background. The event loop is blocked
 * for the budget at worst, not for the hours a polynomial backtrack over a long subject can take.
 * Start-up is not charged to the caller. One per process ({@link regexSandbox}).
 */
export class RegexSandbox {
  private thread?: Thread;
  private nextId = 0;
  private nextSubjectId = 0;
  private unavailableUntil = 0;
  private readonly counts = { done: 0, over_budget: 0, unavailable: 0 };

  /** Matches answered (done) and uses of a regex refused (over_budget, unavailable) since start, for metrics. */
  stats(): Readonly<Record<'done' | 'over_budget' | 'unavailable', number>> {
    return { ...this.counts };
  }

  /** Starts the thread in the background if it is not running (a pattern that will need it was just compiled). */
  prepare(): void {
    this.starting();
  }

  /** `re.exec(subject)` from `lastIndex`, in the sandbox, charged to `cursor` (one per use of the regex). */
  exec(re: RegExp, subject: string, lastIndex: number, cursor: RegexCursor): SandboxedExec {
    if (this.thread?.pendingAhead) this.settleAhead(this.thread);
    const cached = cursor.ahead?.subject === subject ? cursor.ahead.byFrom.get(lastIndex) : undefined;
    if (cached) return this.answer(cursor, subject, cached);
    const left = cursor.budgetMs - cursor.spentMs;
    if (left <= 0) return this.refused('over-budget');
    const thread = this.ready();
    if (!thread) return this.refused('unavailable');
    const iterating = cursor.last?.subject === subject && cursor.last.lastIndex === lastIndex;
    // Ids stay positive in the shared Int32 words (-1 means started, 0 waiting).
    const id = (this.nextId = this.nextId >= 0x7ffffffe ? 1 : this.nextId + 1);
    let subjectId = thread.subjects.get(subject);
    const send = subjectId === undefined;
    if (subjectId === undefined) {
      subjectId = ++this.nextSubjectId;
      thread.subjects.set(subject, subjectId);
      if (thread.subjects.size > KEPT_SUBJECTS) thread.subjects.delete(thread.subjects.keys().next().value as string);
    }
    const ahead = iterating && (re.global || re.sticky) ? PREFETCH_MATCHES : 0;
    Atomics.store(thread.word, 0, 0);
    thread.worker.postMessage({ id, source: re.source, flags: re.flags, lastIndex, subjectId, subject: send ? subject : undefined, ahead, aheadMs: PREFETCH_MS });
    const posted = Date.now();
    const answered = waitFor(thread.word, 0, id, posted + left);
    cursor.spentMs += Date.now() - posted;
    if (!answered) {
      this.restart();
      return this.refused('over-budget');
    }
    const reply = receiveMessageOnPort(thread.port)?.message as Reply | undefined;
    if (!reply || reply.id !== id || reply.error !== undefined || !reply.found) {
      this.restart();
      throw new Error(`regex sandbox: ${reply?.error ?? 'reply missing'}`);
    }
    if (ahead) thread.pendingAhead = { id, cursor, subject };
    return this.answer(cursor, subject, reply.found);
  }

  /** Terminates the thread (the next exec starts another). */
  stop(): void {
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    void thread.worker.terminate();
    thread.port.close();
  }

  /** Stops the thread and starts another in the background. */
  private restart(): void {
    this.stop();
    this.starting();
  }

  /**
   * Takes the matches the thread computed ahead after its last answer, waiting a little for them
   * when it is still at it (not charged to anyone). A thread stuck in a slow match nobody asked
   * for is replaced.
   */
  private settleAhead(thread: Thread): void {
    const pending = thread.pendingAhead!;
    thread.pendingAhead = undefined;
    const reply = waitFor(thread.word, 1, pending.id, Date.now() + PREFETCH_MS + AHEAD_SLACK_MS) ? (receiveMessageOnPort(thread.port)?.message as Reply | undefined) : undefined;
    if (!reply || reply.id !== pending.id || !reply.ahead) this.restart();
    else if (reply.ahead.length) pending.cursor.ahead = { subject: pending.subject, byFrom: new Map(reply.ahead.map((f) => [f.from, f])) };
  }

  /** The running thread, waiting for its start-up if needed (not charged); undefined if it cannot start. */
  private ready(): Thread | undefined {
    const thread = this.starting();
    if (!thread || thread.ready) return thread;
    if (!waitFor(thread.word, 0, -1, Date.now() + SANDBOX_START_MS)) {
      this.stop();
      this.unavailableUntil = Date.now() + SANDBOX_RETRY_MS;
      return undefined;
    }
    thread.ready = true;
    return thread;
  }

  /** The thread, started in the background if there is none (and starting is not on hold after a failure). */
  private starting(): Thread | undefined {
    if (this.thread || Date.now() < this.unavailableUntil) return this.thread;
    const signal = new SharedArrayBuffer(8);
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
      port1.close();
      this.unavailableUntil = Date.now() + SANDBOX_RETRY_MS;
      return undefined;
    }
    worker.unref();
    const thread: Thread = { worker, port: port1, word, ready: false, subjects: new Map() };
    // A thread that dies (out of memory) leaves its exec without an answer: the next one starts another.
    worker.on('error', () => this.thread === thread && this.stop());
    worker.on('exit', () => this.thread === thread && this.stop());
    this.thread = thread;
    return thread;
  }

  private refused(kind: 'over-budget' | 'unavailable'): SandboxedExec {
    this.counts[kind === 'over-budget' ? 'over_budget' : 'unavailable']++;
    return { kind };
  }

  private answer(cursor: RegexCursor, subject: string, found: Found): SandboxedExec {
    this.counts.done++;
    cursor.last = { subject, lastIndex: found.lastIndex };
    return { kind: 'done', match: found.spans ? execArray(found, subject) : null, lastIndex: found.lastIndex };
  }
}

/** Waits until `word[slot]` holds `value` or `deadline` (epoch ms) passes; true if it does. */
function waitFor(word: Int32Array, slot: 0 | 1, value: number, deadline: number): boolean {
  for (let seen = Atomics.load(word, slot); seen !== value; seen = Atomics.load(word, slot)) {
    const wait = deadline - Date.now();
    if (wait <= 0) return false;
    Atomics.wait(word, slot, seen, wait);
  }
  return true;
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
