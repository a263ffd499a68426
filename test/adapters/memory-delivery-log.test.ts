import test from 'ava';
import { InMemoryDeliveryLog } from '../../src/adapters/memory-delivery-log.ts';

test('the first delivery is recorded, a repeat is not, an expired one is recorded afresh', (t) => {
  const log = new InMemoryDeliveryLog();
  t.true(log.record('a', 0, 100));
  t.false(log.record('a', 99, 199));
  t.true(log.record('a', 100, 200));
  log.keepAnswer('a', '"done"');
  t.is(log.answerOf('a', 150), '"done"');
  t.is(log.answerOf('a', 200), undefined);
  log.keepAnswer('unknown', '"x"');
  t.is(log.answerOf('unknown', 0), undefined);
});

test('bounded: the delivery recorded longest ago is forgotten first', (t) => {
  const log = new InMemoryDeliveryLog(2);
  log.record('a', 0, 100);
  log.record('b', 0, 100);
  log.record('c', 0, 100);
  t.is(log.size, 2);
  t.true(log.record('a', 1, 100));
  t.false(log.record('c', 1, 100));
});
