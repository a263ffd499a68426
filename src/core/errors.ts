/**
 * Errors a chat user may see. Everything that is not a UserError is an internal fault: the
 * user gets a short apology with a reference id and the log gets the whole error.
 */
export type UserErrorCode =
  | 'UNKNOWN_COMMAND'
  | 'BAD_INPUT'
  | 'UNKNOWN_POOL'
  | 'NOT_ALLOWED'
  | 'ADMIN_ONLY'
  | 'POOL_EMPTY'
  | 'LEASE_LIMIT'
  | 'NO_LEASE'
  | 'AMBIGUOUS_VM'
  | 'UNKNOWN_VM'
  | 'NOT_OWNER'
  | 'EXTENSION_LIMIT'
  | 'CLOUD_UNAVAILABLE'
  | 'NOT_IN_DIRECTORY'
  | 'ACCOUNT_DISABLED'
  | 'DIRECTORY_UNAVAILABLE'
  | 'SETUP_BACKOFF'
  | 'POOL_CLOSED'
  | 'LEASE_CAP'
  | 'POOL_FAILING'
  | 'POOL_RETIRED'
  | 'NOT_QUEUED'
  | 'AMBIGUOUS_QUEUE'
  | 'EXTENSION_WHILE_QUEUED';

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: UserErrorCode,
    message: string,
    /** A hint on what to do next, shown under the message. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
