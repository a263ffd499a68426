#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: what a claimed DAaaS VM's holder is doing. Read-only: it reads utmp and
/proc, stats files and asks nvidia-smi; it never writes, so it always reports changed=false
and runs the same in check mode."""

from __future__ import annotations

DOCUMENTATION = r"""
module: daaas_activity
short_description: Sessions, busy processes, load, GPU use and changed files of a VM's holder
description:
  - Reads the holder's open sessions from utmp (and remote-desktop processes), samples the CPU
    time of the holder's processes over C(sample_seconds), reads the load average, asks
    nvidia-smi for GPU use when C(gpu), and walks C(paths) for regular files of the holder
    changed since C(since), skipping C(exclude).
  - Changes nothing.
options:
  account: {type: str, required: true}
  since: {type: int, required: true, description: epoch seconds; files changed before are not reported}
  paths: {type: list, elements: str, default: []}
  exclude: {type: list, elements: str, default: []}
  root: {type: str, default: "", description: prefix of every path (a sandbox); reported paths omit it}
  utmp: {type: str, default: /var/run/utmp}
  sample_seconds: {type: float, default: 1.0}
  busy_cpu: {type: float, default: 10.0, description: percent of one core from which a process counts as busy}
  gpu: {type: bool, default: false}
  desktop_commands: {type: list, elements: str}
  max_files: {type: int, default: 10}
  max_scan: {type: int, default: 200000}
"""

import heapq
import os
import pwd
import struct
import time

from ansible.module_utils.basic import AnsibleModule

# struct utmp on Linux (glibc, 64-bit and 32-bit alike): 384 bytes.
UTMP = struct.Struct('<hxxi32s4s32s256shhiii4i20s')
USER_PROCESS = 7
DESKTOP_COMMANDS = ['Xvnc', 'Xtigervnc', 'Xtightvnc', 'xrdp-chansrv', 'x2goagent', 'nxagent']


def text(raw):
    return raw.split(b'\0', 1)[0].decode('utf-8', 'replace')


def alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sessions_from_utmp(path, account):
    found = []
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return found, 'utmp %s not readable' % path
    for offset in range(0, len(data) - UTMP.size + 1, UTMP.size):
        rec = UTMP.unpack_from(data, offset)
        ut_type, pid, line, _id, user, host = rec[0], rec[1], text(rec[2]), rec[3], text(rec[4]), text(rec[5])
        if ut_type != USER_PROCESS or user != account or not alive(pid):
            continue
        if host.startswith(':'):
            kind = 'remote-desktop'
        elif host:
            kind = 'ssh'
        else:
            kind = 'console'
        session = {'user': user, 'kind': kind, 'since': rec[9] * 1000 + rec[10] // 1000, 'line': line}
        if host and not host.startswith(':'):
            session['from'] = host
        found.append(session)
    return found, None


def clock_ticks():
    return os.sysconf(os.sysconf_names['SC_CLK_TCK'])


def uptime():
    with open('/proc/uptime') as f:
        return float(f.read().split()[0])


def stat_of(pid):
    """(comm, cpu ticks, start ticks) of a process, or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            raw = f.read().decode('utf-8', 'replace')
    except OSError:
        return None
    comm = raw[raw.index('(') + 1:raw.rindex(')')]
    rest = raw[raw.rindex(')') + 2:].split()
    # Fields after the name: state(3) ... utime(14) stime(15) ... starttime(22), counted from 1.
    return comm, int(rest[11]) + int(rest[12]), int(rest[19])


def own_ancestry():
    """This module's own process and its parents: never the holder's work."""
    pids = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open('/proc/%d/stat' % pid) as f:
                raw = f.read()
            pid = int(raw[raw.rindex(')') + 2:].split()[1])
        except (OSError, ValueError):
            break
    return pids


def holder_pids(uid, skip):
    pids = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in skip:
            continue
        try:
            if os.stat('/proc/%d' % pid).st_uid == uid:
                pids.append(pid)
        except OSError:
            pass
    return pids


def gpu_state(module):
    """(per-GPU percent busy, pids holding a GPU, a note when nvidia-smi could not be asked)."""
    smi = module.get_bin_path('nvidia-smi')
    if not smi:
        return [], set(), 'nvidia-smi not found'
    rc, out, err = module.run_command([smi, '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits'])
    if rc != 0:
        return [], set(), 'nvidia-smi failed: %s' % (err or out).strip()[:200]
    percent = [float(v) for v in out.split() if v.replace('.', '', 1).isdigit()]
    rc, out, _err = module.run_command([smi, '--query-compute-apps=pid', '--format=csv,noheader'])
    pids = set(int(v) for v in out.split() if v.isdigit()) if rc == 0 else set()
    return percent, pids, None


def processes(module, uid, sample, busy_cpu, gpu_pids, desktop_commands):
    hz = clock_ticks()
    skip = own_ancestry()
    first = {}
    for pid in holder_pids(uid, skip):
        s = stat_of(pid)
        if s:
            first[pid] = s
    time.sleep(sample)
    now_up = uptime()
    busy, desktops = [], []
    for pid, (comm, ticks, start) in first.items():
        s = stat_of(pid)
        if not s or s[2] != start:
            continue
        cpu = (s[1] - ticks) * 100.0 / hz / sample
        elapsed_ms = int(max(0.0, now_up - start / float(hz)) * 1000)
        if comm in desktop_commands:
            desktops.append({'comm': comm, 'elapsed_ms': elapsed_ms})
        if cpu >= busy_cpu or pid in gpu_pids:
            busy.append({'pid': pid, 'command': comm, 'elapsed_ms': elapsed_ms, 'cpu_percent': round(cpu, 1), 'gpu': pid in gpu_pids})
    busy.sort(key=lambda p: -p['cpu_percent'])
    return busy, desktops


def under(path, prefixes):
    return any(path == p or path.startswith(p.rstrip('/') + '/') for p in prefixes)


def changed_files(uid, since, paths, exclude, root, max_files, max_scan):
    count, total, scanned, truncated = 0, 0, 0, False
    largest, newest = [], []
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = [d for d in dirnames if not under(os.path.join(dirpath, d), exclude)]
            for name in filenames:
                scanned += 1
                if scanned > max_scan:
                    truncated = True
                    break
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if st.st_uid != uid or st.st_mtime < since or not (st.st_mode & 0o170000 == 0o100000):
                    continue
                count += 1
                total += st.st_size
                shown = path[len(root):] if root and path.startswith(root) else path
                entry = (st.st_size, int(st.st_mtime * 1000), shown)
                heapq.heappush(largest, entry)
                if len(largest) > max_files:
                    heapq.heappop(largest)
                heapq.heappush(newest, (entry[1], entry[0], shown))
                if len(newest) > max_files:
                    heapq.heappop(newest)
            if truncated:
                break
        if truncated:
            break
    return {
        'count': count,
        'bytes': total,
        'largest': [{'path': p, 'bytes': b, 'modified_at': m} for b, m, p in sorted(largest, reverse=True)],
        'newest': [{'path': p, 'bytes': b, 'modified_at': m} for m, b, p in sorted(newest, reverse=True)],
        'truncated': truncated,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            account=dict(type='str', required=True),
            since=dict(type='int', required=True),
            paths=dict(type='list', elements='str', default=[]),
            exclude=dict(type='list', elements='str', default=[]),
            root=dict(type='str', default=''),
            utmp=dict(type='str', default='/var/run/utmp'),
            sample_seconds=dict(type='float', default=1.0),
            busy_cpu=dict(type='float', default=10.0),
            gpu=dict(type='bool', default=False),
            desktop_commands=dict(type='list', elements='str', default=DESKTOP_COMMANDS),
            max_files=dict(type='int', default=10),
            max_scan=dict(type='int', default=200000),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        uid = pwd.getpwnam(p['account']).pw_uid
    except KeyError:
        module.fail_json(msg='there is no account %s on this VM' % p['account'])
    root = p['root'].rstrip('/')
    notes = []
    sessions, note = sessions_from_utmp(root + p['utmp'], p['account'])
    if note:
        notes.append(note)
    gpu_percent, gpu_pids = [], set()
    if p['gpu']:
        gpu_percent, gpu_pids, note = gpu_state(module)
        if note:
            notes.append(note)
    busy, desktops = processes(module, uid, max(0.1, p['sample_seconds']), p['busy_cpu'], gpu_pids, set(p['desktop_commands']))
    now_ms = int(time.time() * 1000)
    for d in desktops:
        sessions.append({'user': p['account'], 'kind': 'remote-desktop', 'since': now_ms - d['elapsed_ms'], 'line': d['comm']})
    with open('/proc/loadavg') as f:
        load = [float(v) for v in f.read().split()[:3]]
    files = changed_files(uid, p['since'], [root + x for x in p['paths']], [root + x for x in p['exclude']], root, max(1, p['max_files']), max(1, p['max_scan']))
    module.exit_json(changed=False, activity={
        'at': now_ms,
        'sessions': sessions,
        'busy': busy,
        'load': load,
        'gpu_percent': gpu_percent,
        'files': files,
        'notes': notes,
    })


if __name__ == '__main__':
    main()
