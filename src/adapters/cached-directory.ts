import type { Clock } from '../ports/clock.ts';
import { DirectoryUnavailableError, type AccountLookup, type Directory } from '../ports/directory.ts';
import { silentLogger, type Logger } from '../ports/logger.ts';

export interface CachedDirectoryOptions {
  clock: Clock;
  /** How long an answer is used without asking again. */
  ttlMs: number;
  /** How old an answer may be and still be used while the directory cannot be reached. */
  staleForMs: number;
  /** Answers kept at most; the oldest go first. */
  maxEntries?: number;
  log?: Logger;
}

interface Answer<T> {
  value: T;
  at: number;
}

/**
 * Remembers the directory's answers for `ttlMs`, asks once at a time per question, and while
 * the directory cannot be reached answers from what it remembers for up to `staleForMs` (saying
 * so in the log). Past that, or with nothing remembered, it rejects with
 * DirectoryUnavailableError: a failure is never turned into an answer that grants anything.
 */
export class CachedDirectory implements Directory {
  private readonly answers = new Map<string, Answer<unknown>>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly log: Logger;
  /** Answers given from memory while the directory was unreachable (for admins and tests). */
  staleAnswers = 0;

  constructor(
    private readonly directory: Directory,
    private readonly options: CachedDirectoryOptions,
  ) {
    this.log = options.log ?? silentLogger;
  }

  lookUp(account: string): Promise<AccountLookup> {
    return this.ask(`u\u0000${account}`, () => this.directory.lookUp(account), { account });
  }

  isMemberOf(account: string, group: string): Promise<boolean> {
    return this.ask(`g\u0000${account}\u0000${group.toLowerCase()}`, () => this.directory.isMemberOf(account, group), { account, group });
  }

  /** Forgets every answer (the next questions go to the directory). */
  clear(): void {
    this.answers.clear();
  }

  private async ask<T>(key: string, fetch: () => Promise<T>, about: object): Promise<T> {
    const now = this.options.clock.now();
    const known = this.answers.get(key) as Answer<T> | undefined;
    if (known && now - known.at < this.options.ttlMs) return known.value;
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const pending = (async () => {
      try {
        const value = await fetch();
        this.remember(key, { value, at: this.options.clock.now() });
        return value;
      } catch (error) {
        const cause = error instanceof DirectoryUnavailableError ? error : new DirectoryUnavailableError(`the facility directory failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        const ageMs = this.options.clock.now() - (known?.at ?? Number.NEGATIVE_INFINITY);
        if (known && ageMs < this.options.staleForMs) {
          this.staleAnswers++;
          this.log.warn({ ...about, ageMs, err: cause }, 'the facility directory cannot be reached: using an answer remembered from before');
          return known.value;
        }
        this.log.warn({ ...about, err: cause, ...(known ? { ageMs } : {}) }, 'the facility directory cannot be reached, and no recent answer is remembered');
        throw cause;
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, pending);
    return pending;
  }

  private remember(key: string, answer: Answer<unknown>): void {
    this.answers.delete(key);
    this.answers.set(key, answer);
    const max = this.options.maxEntries ?? 20_000;
    while (this.answers.size > max) {
      const oldest = this.answers.keys().next();
      if (oldest.done) break;
      this.answers.delete(oldest.value);
    }
  }
}
