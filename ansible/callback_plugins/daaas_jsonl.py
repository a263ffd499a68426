# -*- coding: utf-8 -*-
# Apache-2.0
"""JSON-lines stdout callback for the DAaaS bot.

Debian's ansible-core 2.14 ships no ``json`` stdout callback, and the bot needs results it can
parse while the play runs, so this prints one JSON object per line: task starts, one line per
task result per host, and a final ``stats`` line with the recap and anything ``set_stats`` set.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: daaas_jsonl
    type: stdout
    short_description: one JSON object per line, for the DAaaS bot
    description:
      - Prints task starts, task results (host, task, role, status, msg) and the final stats as JSON lines.
    requirements:
      - set as stdout callback in ansible.cfg
"""

import json

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.callback import CallbackBase

# Keeps one line readable in a chat-sized log tail while keeping the useful end of long output.
MAX_TEXT = 2000


def _text(value):
    if value is None:
        return None
    text = to_text(value, errors='surrogate_then_replace')
    if len(text) > MAX_TEXT:
        text = u'...' + text[-MAX_TEXT:]
    return text


def _message(res):
    """The most useful one-line reason in a module result."""
    parts = []
    msg = res.get('msg')
    if msg:
        parts.append(_text(msg))
    # A command that failed says only "non-zero return code"; its stderr says why.
    if res.get('rc') not in (None, 0) or res.get('failed'):
        stderr = res.get('stderr') or res.get('module_stderr')
        if stderr:
            parts.append(_text(stderr).strip())
        elif res.get('stdout') and not msg:
            parts.append(_text(res.get('stdout')).strip())
    # A loop hides the failing item's reason inside its results.
    for item in res.get('results') or []:
        if isinstance(item, dict) and (item.get('failed') or item.get('unreachable')):
            label = item.get('_ansible_item_label', item.get('item'))
            parts.append(u'item %s: %s' % (_text(label), _message(item)))
    return u'; '.join(p for p in parts if p)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'daaas_jsonl'

    def _emit(self, obj):
        self._display.display(json.dumps(obj, sort_keys=True, default=_text))

    @staticmethod
    def _task_fields(task):
        fields = {'task': _text(task.get_name()).strip()}
        role = getattr(task, '_role', None)
        if role is not None:
            fields['role'] = _text(role.get_name())
        return fields

    def _result(self, status, result, extra=None):
        res = result._result
        line = {'event': 'result', 'host': _text(result._host.get_name()), 'status': status}
        line.update(self._task_fields(result._task))
        msg = _message(res)
        if msg:
            line['msg'] = msg
        if res.get('rc') is not None:
            line['rc'] = res.get('rc')
        if extra:
            line.update(extra)
        self._emit(line)

    def v2_playbook_on_play_start(self, play):
        self._emit({'event': 'play_start', 'play': _text(play.get_name()).strip()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        line = {'event': 'task_start'}
        line.update(self._task_fields(task))
        self._emit(line)

    def v2_playbook_on_handler_task_start(self, task):
        line = {'event': 'task_start', 'handler': True}
        line.update(self._task_fields(task))
        self._emit(line)

    def v2_runner_on_ok(self, result):
        status = 'changed' if result._result.get('changed', False) else 'ok'
        self._result(status, result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result, {'ignored': True} if ignore_errors else None)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_playbook_on_no_hosts_matched(self):
        self._emit({'event': 'no_hosts'})

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed.keys()):
            summary = stats.summarize(host)
            hosts[_text(host)] = dict((k, summary.get(k, 0)) for k in ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored'))
        self._emit({'event': 'stats', 'hosts': hosts, 'custom': stats.custom})
