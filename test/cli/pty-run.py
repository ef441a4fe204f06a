"""Runs a command in a pseudo-terminal and answers its prompts (for the CLI tests).

Usage: pty-run.py JSON, where JSON is {"argv": [...], "answers": [[expect, answer, command?], ...], "cwd": DIR,
"timeout": SECONDS}. When the output since the previous answer contains `expect`, types `answer`
and Enter, after running `command` (an argv list) when one is given. Prints everything the command wrote to the terminal and exits with the command's code.
"""
import json
import os
import pty
import select
import subprocess
import sys
import time

config = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(config["cwd"])
    os.execv(config["argv"][0], config["argv"])

answers = list(config.get("answers", []))
deadline = time.time() + config.get("timeout", 60)
out = b""
since = 0
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        break
    ready, _, _ = select.select([fd], [], [], 0.1)
    if fd not in ready:
        continue
    try:
        chunk = os.read(fd, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    out += chunk
    if answers and answers[0][0].encode() in out[since:]:
        if len(answers[0]) > 2:  # do something first, as the operator would before answering
            subprocess.run(answers[0][2], check=True)
        os.write(fd, (answers[0][1] + "\n").encode())
        since = len(out)
        answers.pop(0)

_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(status))
