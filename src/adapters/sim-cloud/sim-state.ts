/**
 * What the simulated cloud keeps on disk, so its servers outlive the bot as a real cloud's do:
 * one JSON file, written whole and renamed into place (a crash leaves the old or the new state).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SimServer {
  id: string;
  name: string;
  image: string;
  flavor: string;
  metadata: Record<string, string>;
  tags: string[];
  createdAt: number;
  /** When the bot or an operator last changed it (the boot finishing is worked out as it is read). */
  updatedAt?: number;
  bootMs: number;
  failsToBoot: boolean;
  address: string;
  fault: string | null;
}

/** The simulated cloud's state file, as read after a restart. */
export interface SimState {
  version: 1;
  servers: SimServer[];
  nextAddress: number;
  /** Images republished under their name, by name: version 1 is the name itself. */
  imageVersions?: Record<string, number>;
  /** Deleted servers still reported by `listChanges`, with when they went. */
  deleted?: { server: SimServer; deletedAt: number }[];
}

/** The state at `path`; undefined when there is none yet (a first start). */
export function readSimState(path: string): SimState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as SimState;
}

/** Written whole and renamed into place, so a crash leaves the old or the new state, never half. */
export function writeSimState(path: string, state: SimState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}
