import { randomUUID } from 'node:crypto';
import type { types } from '@slack/bolt';
import { isUserError } from '../../core/errors.ts';
import type { Principal } from '../../core/model.ts';
import type { DaaasService } from '../../core/service.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Identified } from '../inbound.ts';
import { reply, text, type Reply } from '../reply.ts';
import { homeView, messageHomeView } from './home-view.ts';
import { slackErrorCode } from './outbound-queue.ts';

export interface SlackHomeTabOptions {
  /** What App Home shows: the core service and who an account is. Without it, Home shows only help. */
  home?: { service: DaaasService; principal: (account: string) => Principal | Promise<Principal> };
  /** The Slack user's facility account, through the inbound pipeline. */
  identify: (slackUserId: string) => Promise<Identified>;
  /** Slack users known to hold an account. */
  slackUsersOf: (account: string) => string[];
  /** views.publish, through the outbound queue (`urgent` when the user is looking at it). */
  publish: (slackUserId: string, view: types.HomeView, urgent: boolean) => Promise<void>;
  clock: Clock;
  log: Logger;
}

/**
 * The App Home tab: the user's VMs and the pools they may claim, published when they open it
 * and republished once per change of their leases. While a button in the Home tab is being
 * answered, a change it causes is not published separately: the answer's own publication,
 * which shows the outcome on top, already shows it.
 */
export class SlackHomeTab {
  /** Slack users whose App Home the bot has published since it started: kept current. */
  private readonly homeUsers = new Set<string>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly refreshAgain = new Set<string>();
  /** Slack users whose Home button is being answered: the answer publishes their Home. */
  private readonly answering = new Map<string, number>();

  constructor(private readonly options: SlackHomeTabOptions) {}

  /** Publishes a user's App Home: their VMs, the pools they may claim, and `notice` on top. */
  async publish(slackUserId: string, notice?: Reply, urgent = true): Promise<void> {
    const view = await this.viewFor(slackUserId, notice);
    this.homeUsers.add(slackUserId);
    try {
      await this.options.publish(slackUserId, view, urgent);
    } catch (error) {
      this.options.log.warn({ err: error, slackError: slackErrorCode(error), slackUser: slackUserId }, 'Slack did not publish the Home tab');
    }
  }

  /** Runs `work` (a Home button's command) and publishes its answer on top of the Home tab: one publication. */
  async answerInHome(slackUserId: string, work: () => Promise<Reply>): Promise<void> {
    this.answering.set(slackUserId, (this.answering.get(slackUserId) ?? 0) + 1);
    let answer: Reply;
    try {
      answer = await work();
    } finally {
      const left = (this.answering.get(slackUserId) ?? 1) - 1;
      if (left > 0) this.answering.set(slackUserId, left);
      else this.answering.delete(slackUserId);
    }
    await this.publish(slackUserId, answer);
  }

  /**
   * Republishes the Home tab of the Slack users holding `account` (those whose Home the bot
   * has published): call it when their leases change. Never throws; repeated calls while one is
   * under way are merged into one more.
   */
  async refreshHomeOf(account: string): Promise<void> {
    const users = this.options.slackUsersOf(account).filter((u) => this.homeUsers.has(u) && !this.answering.has(u));
    await Promise.all(users.map((u) => this.refresh(u)));
  }

  private refresh(slackUserId: string): Promise<void> {
    const running = this.refreshing.get(slackUserId);
    if (running) {
      this.refreshAgain.add(slackUserId);
      return running;
    }
    const run = (async () => {
      do {
        this.refreshAgain.delete(slackUserId);
        await this.publish(slackUserId, undefined, false).catch((error: unknown) => this.options.log.warn({ err: error }, 'Home tab refresh failed'));
      } while (this.refreshAgain.has(slackUserId));
    })().finally(() => this.refreshing.delete(slackUserId));
    this.refreshing.set(slackUserId, run);
    return run;
  }

  private async viewFor(slackUserId: string, notice: Reply | undefined): Promise<types.HomeView> {
    const now = this.options.clock.now();
    const identity = await this.options.identify(slackUserId);
    if (!identity.ok) return messageHomeView(identity.reply, now);
    if (!this.options.home) return messageHomeView(notice ?? reply('info', 'DAaaS: analysis VMs on demand', text('Type /daaas help for every command.')), now);
    try {
      const { service, principal } = this.options.home;
      const who = await principal(identity.account);
      const leases = service.leasesOf(who).map((lease) => ({ lease, pool: service.leasePool(lease) }));
      return homeView({ now, account: identity.account, leases, pools: service.overview(who), ...(notice ? { notice } : {}) });
    } catch (error) {
      // Refused by the facility directory (an account it lacks or has disabled): say so, as a command would.
      if (isUserError(error)) return messageHomeView(reply('error', error.message, error.hint ? text(error.hint) : undefined), now);
      const reference = randomUUID().slice(0, 8);
      this.options.log.error({ err: error, requestId: reference, slackUser: slackUserId }, 'could not build the Home tab');
      return messageHomeView(reply('error', 'Sorry, your VMs cannot be shown right now.', text(`Try /daaas status. If it happens again, tell the admins and quote reference ${reference}.`)), now);
    }
  }
}
