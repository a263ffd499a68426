import test from 'ava';
import { suggest } from '../../src/core/suggest.ts';

const COMMANDS = ['help', 'pools', 'claim', 'status', 'extend', 'release', 'admin'];

test('two neighbouring letters swapped are one slip: hlep suggests help, cliam claim, stauts status', (t) => {
  t.is(suggest('hlep', COMMANDS), 'help');
  t.is(suggest('cliam', COMMANDS), 'claim');
  t.is(suggest('stauts', COMMANDS), 'status');
  t.is(suggest('HLEP', COMMANDS), 'help');
});

test('a letter added, dropped or changed is still a slip; far-off words get no suggestion', (t) => {
  t.is(suggest('hep', COMMANDS), 'help');
  t.is(suggest('poools', COMMANDS), 'pools');
  t.is(suggest('relase', COMMANDS), 'release');
  t.is(suggest('reboot', COMMANDS), undefined);
  t.is(suggest('x', COMMANDS), undefined);
  t.is(suggest('ehlp', ['help']), 'help');
  t.is(suggest('lehp', ['help']), undefined, 'two slips in a four-letter word are too many');
});

test('pool names: a swapped pair in a longer name is suggested', (t) => {
  t.is(suggest('pyhsics', ['physics', 'chemistry']), 'physics');
  t.is(suggest('excitatoins', ['excitations', 'physics']), 'excitations');
});
