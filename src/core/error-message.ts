/** What an error says, for a log line, a status field or a chat message; anything thrown works. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
