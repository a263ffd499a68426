import type { CommandSpec } from '../src/chat/command-spec.ts';
import { adminLog } from './admin-log.ts';
import { adminPools } from './admin-pools.ts';
import { claim } from './claim.ts';
import { extend } from './extend.ts';
import { help } from './help.ts';
import { pools } from './pools.ts';
import { release } from './release.ts';
import { status } from './status.ts';

/** Every chat command, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [claim, status, extend, release, pools, help, adminPools, adminLog];
