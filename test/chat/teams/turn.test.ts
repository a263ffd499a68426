import test from 'ava';
import { Activity } from '@microsoft/agents-activity';
import { reply, text } from '../../../src/chat/reply.ts';
import { commandText, plainText } from '../../../src/chat/teams/turn.ts';
import { BOT } from './fake-connector.ts';

test('the command in a message: mentions and markup removed, /daaas optional; group chats need a mention', (t) => {
  const activity = (text: string, entities: object[] = []) => Activity.fromObject({ type: 'message', text, recipient: BOT, entities });
  const mention = { type: 'mention', text: '<at>DAaaS</at>', mentioned: BOT };
  t.deepEqual(commandText(activity('claim excitations'), true), { text: 'claim excitations', addressed: true });
  t.deepEqual(commandText(activity('/daaas  claim excitations\n'), true), { text: 'claim excitations', addressed: true });
  t.deepEqual(commandText(activity('<at>DAaaS</at>&nbsp;/daaas <b>status</b>', [mention]), false), { text: 'status', addressed: true });
  t.deepEqual(commandText(activity('status'), false), { text: 'status', addressed: false }, 'a group chat message not for the bot');
  t.deepEqual(commandText(activity('<at>Someone</at> status', [{ type: 'mention', text: '<at>Someone</at>', mentioned: { id: '29:1x' } }]), false), { text: 'status', addressed: false });
  t.deepEqual(commandText(activity('<at>DAaaS</at>', [mention]), false), { text: '', addressed: true });
  t.deepEqual(commandText(activity('release &lt;vm&gt; &amp;lt;'), true), { text: 'release <vm> &lt;', addressed: true });
});

test('an invoke message response is the reply as one short paragraph', (t) => {
  t.is(plainText(reply('error', 'No VM called x.', text('See yours with:\n  status'), { type: 'fields', fields: [{ label: 'a', value: 'b' }] })), 'No VM called x. See yours with: status');
});
