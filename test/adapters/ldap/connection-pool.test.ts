/** The directory's connection pool, on fake connections: reuse, failures, busy and closed. */
import test from 'ava';
import { ConnectionPool } from '../../../src/adapters/ldap/connection-pool.ts';
import type { LdapConnection } from '../../../src/adapters/ldap/ldapts-connection.ts';
import { DirectoryUnavailableError } from '../../../src/ports/directory.ts';

const URL = 'ldap://dc.facility.example';

/** Connections that answer with their own number, and fail while `fail` is set. */
function fakes() {
  const state = { made: 0, closed: 0, fail: false as boolean | string };
  const connect = async (): Promise<LdapConnection> => {
    const n = ++state.made;
    return {
      usable: true,
      search: async () => {
        if (state.fail) throw new Error(typeof state.fail === 'string' ? state.fail : 'connection reset');
        return [{ dn: `cn=${n}`, attributes: {} }];
      },
      close: async () => void state.closed++,
    };
  };
  return { state, connect };
}

const search = (c: LdapConnection) => c.search({ base: 'dc=x', scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }).then((r) => r[0]!.dn);

test('a failing connection is an unavailable directory naming it, and is never reused: the next request opens a new one', async (t) => {
  const { state, connect } = fakes();
  const pool = new ConnectionPool(connect, 1, 1_000, URL);
  state.fail = true;
  await t.throwsAsync(pool.use(search), { instanceOf: DirectoryUnavailableError, message: `the facility directory at ${URL} cannot be used: connection reset` });
  state.fail = false;
  t.is(await pool.use(search), 'cn=2');
  t.is(state.closed, 1, 'the failed one was closed');
  t.is(await pool.use(search), 'cn=2', 'a good one is reused');
  t.is(state.made, 2);
});

test('a request that fails on a reused connection (closed by the server while idle) is tried once more on a new one', async (t) => {
  const { state, connect } = fakes();
  const pool = new ConnectionPool(connect, 1, 1_000, URL);
  t.is(await pool.use(search), 'cn=1');
  let calls = 0;
  const result = await pool.use(async (c) => {
    calls++;
    if (calls === 1) throw new Error('socket hang up');
    return search(c);
  });
  t.is(result, 'cn=2');
  t.is(state.made, 2);
});

test('an LDAP result named only by its class is reported by that name', async (t) => {
  class InvalidCredentialsError extends Error {}
  const pool = new ConnectionPool(async () => {
    throw new InvalidCredentialsError('Code: 0x31');
  }, 1, 1_000, URL);
  await t.throwsAsync(pool.use(search), { instanceOf: DirectoryUnavailableError, message: `the facility directory at ${URL} cannot be used: InvalidCredentialsError (Code: 0x31)` });
});

test('at most `size` connections; a request waits for one, but gives up when all stay busy past the timeout', async (t) => {
  const { state, connect } = fakes();
  const pool = new ConnectionPool(connect, 1, 50, URL);
  let release!: () => void;
  const held = pool.use(async (c) => {
    await new Promise<void>((resolve) => (release = resolve));
    return search(c);
  }).catch((error: unknown) => error);
  await t.throwsAsync(pool.use(search), { instanceOf: DirectoryUnavailableError, message: `all 1 connections to the facility directory stayed busy for 50 ms` });
  release();
  await held;
  t.is(state.made, 1, 'the waiting request never opened a second connection');
});

test('a closed pool refuses requests and closes its idle connections', async (t) => {
  const { state, connect } = fakes();
  const pool = new ConnectionPool(connect, 2, 1_000, URL);
  await pool.use(search);
  await pool.close();
  t.is(state.closed, 1);
  await t.throwsAsync(pool.use(search), { instanceOf: DirectoryUnavailableError, message: 'the directory client is closed' });
});
