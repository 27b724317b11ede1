#!/usr/bin/env python3
"""Point a temporary copy of Patroni's behave harness at hactl (scripts/compat/run.sh calls this).

Usage: patch_harness.py TREE HACTL_ARGV...

TREE is a scratch export of Patroni's repository (never a checkout anyone works in); HACTL_ARGV is the command
line that runs hactl (for example `deno run --allow-all --quiet /stage/main.ts`). The harness starts each member
as `python patroni.py <yml>` and runs control steps as `python patronictl.py <args>`, both under
`python -m coverage run`. This script:
  - drops the `-m coverage run ...` prefix (and the coverage combine/report calls of after_all), so the harness
    runs the scripts directly and needs no coverage module;
  - replaces patroni.py and patronictl.py in TREE by shims that exec `hactl agent <yml>` and `hactl <args>`
    (exec: the process the harness signals, suspends and waits for is hactl itself).
Every edit must match: when Patroni's harness changes shape, this fails naming the edit rather than running
Patroni's own daemon by mistake. Nothing else of the harness changes; the steps, configs and checks are Patroni's.
"""
import os
import re
import sys

SHIM = '''#!/usr/bin/env python3
"""Written by hactl's scripts/compat/patch_harness.py: runs hactl in place of Patroni's {what}."""
import os
import sys

ARGV = {argv!r}
os.execv(ARGV[0], ARGV + {sub!r} + sys.argv[1:])
'''

# The control shim keeps a log of every command, its output and exit code (features/output/patronictl.log,
# copied into the results): the harness's steps keep a command's output only for the step that reads it.
CTL_SHIM = '''#!/usr/bin/env python3
"""Written by hactl's scripts/compat/patch_harness.py: runs hactl in place of Patroni's patronictl."""
import os
import subprocess
import sys
import time

ARGV = {argv!r}
r = subprocess.run(ARGV + sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
os.makedirs('features/output', exist_ok=True)
with open('features/output/patronictl.log', 'a') as log:
    log.write('{{0}} $ patronictl.py {{1}}\\n{{2}}[exit {{3}}]\\n'.format(
        time.strftime('%H:%M:%S'), ' '.join(sys.argv[1:]), r.stdout.decode('utf-8', 'replace'), r.returncode))
sys.stdout.buffer.write(r.stdout)
sys.exit(r.returncode)
'''

# (file, pattern, replacement, minimum number of matches)
EDITS = [
    ('features/environment.py',
     r"\[sys\.executable, '-m', 'coverage', 'run',\s*'--source=patroni', '-p', ",
     '[sys.executable, ', 2),
    ('features/environment.py',
     r"subprocess\.call\(\[sys\.executable, '-m', 'coverage', '(?:combine|report)'\]\)",
     'pass', 2),
    ('features/steps/patroni_api.py',
     r"\[sys\.executable, '-m', 'coverage', 'run', '--source=patroni', '-p'\]",
     '[sys.executable]', 1),
]


def patch(tree, edits=EDITS):
    """Apply every edit to the files under tree; raise naming the first edit that does not match."""
    for rel, pattern, repl, minimum in edits:
        path = os.path.join(tree, rel)
        with open(path) as f:
            text = f.read()
        text, n = re.subn(pattern, repl, text)
        if n < minimum:
            raise SystemExit('patch_harness: {0}: expected {1} match(es) of {2!r}, found {3}'.format(
                rel, minimum, pattern, n))
        with open(path, 'w') as f:
            f.write(text)


def write_shims(tree, argv):
    for name, text in (('patroni.py', SHIM.format(what='daemon', argv=list(argv), sub=['agent'])),
                       ('patronictl.py', CTL_SHIM.format(argv=list(argv)))):
        path = os.path.join(tree, name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o755)


def main(args):
    if len(args) < 2:
        raise SystemExit('usage: patch_harness.py TREE HACTL_ARGV...')
    tree, argv = args[0], args[1:]
    patch(tree)
    write_shims(tree, argv)


if __name__ == '__main__':
    main(sys.argv[1:])
