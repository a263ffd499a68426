import type { CommandSpec } from '../src/chat/command-spec.ts';
import { adminAlerts } from './admin-alerts.ts';
import { adminDrain } from './admin-drain.ts';
import { adminExtend } from './admin-extend.ts';
import { adminLeases } from './admin-leases.ts';
import { adminLog } from './admin-log.ts';
import { adminPause } from './admin-pause.ts';
import { adminPools } from './admin-pools.ts';
import { adminRelease } from './admin-release.ts';
import { adminResize } from './admin-resize.ts';
import { adminResume } from './admin-resume.ts';
import { adminUndrain } from './admin-undrain.ts';
import { claim } from './claim.ts';
import { extend } from './extend.ts';
import { help } from './help.ts';
import { keep } from './keep.ts';
import { leave } from './leave.ts';
import { pools } from './pools.ts';
import { release } from './release.ts';
import { status } from './status.ts';

/** Every chat command, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  claim, leave, status, extend, release, keep, pools, help,
  adminPools, adminLeases, adminLog, adminRelease, adminExtend, adminResize, adminDrain, adminUndrain, adminPause, adminResume, adminAlerts,
];
