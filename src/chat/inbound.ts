/**
 * The one way in for every chat platform: de-duplicate → identify → dispatch → render. A platform
 * supplies its transport (it calls these steps and sends what they return), its user look-up and
 * its renderer; everything between is here, written once.
 */
import { randomUUID } from 'node:crypto';
import { InMemoryDeliveryLog } from '../adapters/memory-delivery-log.ts';
import type { Clock } from '../ports/clock.ts';
import type { DeliveryLog } from '../ports/delivery-log.ts';
import type { Logger } from '../ports/logger.ts';
import type { Invocation } from './invocation.ts';
import { internalErrorReply, lookUpFailedReply, notYoursRefusal } from './platform-text.ts';
import type { Reply } from './reply.ts';

/** Who a platform user is: their facility account, or the answer saying why there is none. */
export type Identified = { ok: true; account: string } | { ok: false; reply: Reply };

export interface InboundOptions<User, Rendered> {
  /** `slack`, `teams`, `shell`: where the invocation came from. */
  platform: string;
  /** The platform as users know it ("Slack"), for the answer when its look-up fails. */
  platformName: string;
  /** The dispatcher: text in, neutral reply out. */
  dispatch: (invocation: Invocation) => Promise<Reply>;
  /** The platform's user look-up; throws when the platform does not answer (nothing is remembered then). */
  lookUp: (user: User) => Promise<Identified>;
  /** The platform's renderer; `owner` is the account whose buttons the rendering carries. */
  render: (answer: Reply, context: { now: number; owner?: string }) => Rendered;
  /** How a user claims a VM of their own, in the platform's words: told to whoever presses another's button. */
  howToClaim: string;
  /** Log fields naming a user, and those explaining a failed look-up. */
  describe?: { user?: (user: User) => Record<string, unknown>; lookUpFailure?: (error: unknown) => Record<string, unknown> };
  /** Deliveries already handled. Default: in memory (forgotten on restart). */
  deliveries?: DeliveryLog;
  /** How long a delivery is remembered to recognise the platform sending it again. Default 1 h. */
  repeatWindowMs?: number;
  clock: Clock;
  log: Logger;
}

/** One message or button press to handle. */
export interface InboundMessage<User> {
  user: User;
  text: string;
  /** Where the user can be reached again (their direct chat): recorded with what they claim. */
  conversation: string;
  /** The account holding the card whose button was pressed, when a button was. */
  owner?: string;
  /** The terminal's admin acting as `user` (see Invocation.actingAdmin). */
  actingAdmin?: string;
  /** Where exactly it was said (see Invocation.place). */
  place?: string;
}

export type Outcome<Rendered> =
  | { kind: 'refused'; reply: Reply; rendered: Rendered }
  | {
      kind: 'answered';
      account: string;
      reply: Reply;
      rendered: Rendered;
      /** Pressed a button on someone else's card. */
      stranger: boolean;
      /** The core refused a stranger's button: `reply` says kindly whose it is. */
      notYours: boolean;
    };

const DEFAULT_REPEAT_WINDOW_MS = 3_600_000;

export class InboundPipeline<User, Rendered> {
  private readonly deliveries: DeliveryLog;
  /** Answers still being worked out, so a repeat arriving meanwhile waits for the same answer. */
  private readonly answering = new Map<string, Promise<unknown>>();

  constructor(private readonly options: InboundOptions<User, Rendered>) {
    this.deliveries = options.deliveries ?? new InMemoryDeliveryLog();
  }

  /** De-duplicate: true the first time a delivery arrives, false when the platform sends it again. */
  async firstDelivery(key: string, logFields: Record<string, unknown> = {}): Promise<boolean> {
    const now = this.options.clock.now();
    const first = await this.deliveries.record(key, now, now + (this.options.repeatWindowMs ?? DEFAULT_REPEAT_WINDOW_MS));
    if (!first) this.options.log.info({ delivery: key, ...logFields }, `repeated ${this.options.platformName} delivery ignored`);
    return first;
  }

  /**
   * For a delivery that must get the same answer each time it comes (a Teams invoke): `work`
   * runs for the first; a repeat gets its answer, waiting for it if need be. `undefined` for a
   * repeat whose answer was lost (the bot stopped before it was kept).
   */
  answerOnce<T>(key: string, windowMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const running = this.answering.get(key) as Promise<T | undefined> | undefined;
    if (running) return running;
    const attempt = (async () => {
      const now = this.options.clock.now();
      if (!(await this.deliveries.record(key, now, now + windowMs))) {
        this.options.log.info({ delivery: key }, `repeated ${this.options.platformName} delivery answered again`);
        const kept = await this.deliveries.answerOf(key, now);
        return kept === undefined ? undefined : (JSON.parse(kept) as T);
      }
      const answer = await work();
      await this.deliveries.keepAnswer(key, JSON.stringify(answer));
      return answer;
    })().finally(() => this.answering.delete(key));
    this.answering.set(key, attempt);
    return attempt;
  }

  /** Identify: the user's facility account, or the answer to give them; never throws. */
  async identify(user: User): Promise<Identified> {
    try {
      return await this.options.lookUp(user);
    } catch (error) {
      const { describe } = this.options;
      this.options.log.warn({ err: error, ...describe?.user?.(user), ...describe?.lookUpFailure?.(error) }, `could not look up a ${this.options.platformName} user`);
      return { ok: false, reply: lookUpFailedReply(this.options.platformName) };
    }
  }

  /** Identify → dispatch → render. Never throws. */
  async handle(message: InboundMessage<User>): Promise<Outcome<Rendered>> {
    const identity = await this.identify(message.user);
    if (!identity.ok) return { kind: 'refused', reply: identity.reply, rendered: this.render(identity.reply) };
    const { account } = identity;
    const answer = await this.dispatch({
      platform: this.options.platform,
      account,
      conversation: message.conversation,
      text: message.text,
      ...(message.actingAdmin !== undefined ? { actingAdmin: message.actingAdmin } : {}),
      ...(message.place !== undefined ? { place: message.place } : {}),
    });
    const stranger = message.owner !== undefined && message.owner !== account;
    // Someone else's button: the core refused it; said kindly, naming its holder.
    const notYours = stranger && answer.tone === 'error';
    const shown = notYours ? notYoursRefusal(message.owner!, answer, this.options.howToClaim) : answer;
    return { kind: 'answered', account, reply: shown, rendered: this.render(shown, account), stranger, notYours };
  }

  /** Render: the platform's rendering of a reply, now. */
  render(answer: Reply, owner?: string): Rendered {
    return this.options.render(answer, { now: this.options.clock.now(), ...(owner ? { owner } : {}) });
  }

  /** Dispatch, with the apology (and a reference into the log) should the dispatcher itself fail. */
  private async dispatch(invocation: Omit<Invocation, 'requestId'>): Promise<Reply> {
    const requestId = randomUUID().slice(0, 8);
    try {
      return await this.options.dispatch({ ...invocation, requestId });
    } catch (error) {
      this.options.log.error({ err: error, requestId }, 'command failed');
      return internalErrorReply(requestId);
    }
  }
}
