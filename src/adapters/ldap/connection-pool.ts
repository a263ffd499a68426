/**
 * The directory's connections: a bounded pool that opens, reuses, times out and discards them,
 * and turns every failure into a DirectoryUnavailableError naming the directory.
 */
import { DirectoryUnavailableError } from '../../ports/directory.ts';
import type { LdapConnection } from './ldapts-connection.ts';

/**
 * A bounded set of bound connections: at most `size` open, requests beyond that wait their turn
 * (up to the timeout). A connection that failed or timed out is closed, never reused; a request
 * that failed on a reused connection (the server may have closed it while idle) is tried once
 * more on a new one.
 */
export class ConnectionPool {
  private readonly idle: LdapConnection[] = [];
  private open = 0;
  private readonly waiting: ((c: LdapConnection | null) => void)[] = [];
  private closed = false;

  constructor(
    private readonly connect: () => Promise<LdapConnection>,
    private readonly size: number,
    private readonly timeoutMs: number,
    private readonly url: string,
  ) {}

  async use<T>(fn: (c: LdapConnection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { connection, reused } = await this.acquire();
      try {
        const result = await withTimeout(fn(connection), this.timeoutMs, () => `the facility directory at ${this.url} did not answer within ${this.timeoutMs} ms`);
        this.release(connection);
        return result;
      } catch (error) {
        this.discard(connection);
        if (reused && attempt === 0 && !(error instanceof TimeoutError)) continue;
        throw unavailable(error, this.url);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const resolve of this.waiting.splice(0)) resolve(null);
    await Promise.all(this.idle.splice(0).map((c) => c.close().catch(() => {})));
  }

  private async acquire(): Promise<{ connection: LdapConnection; reused: boolean }> {
    if (this.closed) throw new DirectoryUnavailableError('the directory client is closed');
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.usable) return { connection: c, reused: true };
      this.discard(c);
    }
    if (this.open < this.size) {
      this.open++;
      try {
        return { connection: await withTimeout(this.connect(), this.timeoutMs, () => `connecting to the facility directory at ${this.url} took longer than ${this.timeoutMs} ms`), reused: false };
      } catch (error) {
        this.open--;
        this.wakeOne();
        throw unavailable(error, this.url);
      }
    }
    // Every connection is busy: wait for one, but not for ever.
    const connection = await withTimeout(
      new Promise<LdapConnection | null>((resolve) => this.waiting.push(resolve)),
      this.timeoutMs,
      () => `all ${this.size} connections to the facility directory stayed busy for ${this.timeoutMs} ms`,
    ).catch((error: unknown) => {
      throw unavailable(error, this.url);
    });
    if (!connection) return this.acquire();
    return { connection, reused: true };
  }

  private release(c: LdapConnection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else if (this.closed) this.discard(c);
    else this.idle.push(c);
  }

  private discard(c: LdapConnection): void {
    this.open--;
    void c.close().catch(() => {});
    this.wakeOne();
  }

  /** A waiter whose connection was discarded opens a new one instead. */
  private wakeOne(): void {
    const next = this.waiting.shift();
    if (next) next(null);
  }
}

export class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function unavailable(error: unknown, url: string): DirectoryUnavailableError {
  if (error instanceof DirectoryUnavailableError) return error;
  if (error instanceof TimeoutError) return new DirectoryUnavailableError(error.message, { cause: error });
  // ldapts names the LDAP result in the error's class (InvalidCredentialsError) and its message is often only the code.
  const text = error instanceof Error ? (/^\s*(Code: 0x[0-9a-f]+)?\s*$/i.test(error.message) ? `${error.constructor.name}${error.message.trim() ? ` (${error.message.trim()})` : ''}` : error.message) : String(error);
  return new DirectoryUnavailableError(`the facility directory at ${url} cannot be used: ${text}`, { cause: error });
}

