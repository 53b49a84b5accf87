"""Keeping the learner's processes in, and everyone else's secrets out (Linux; no torch).

* `harden()`: a process that holds something worth protecting (the runner, the warm zygote, the verifier, the
  TUI, and the sandbox before it imports learner code) makes itself non-dumpable, so another process of the
  same user cannot open its /proc/<pid>/fd or read its memory.
* `become_subreaper()`: orphans of our descendants (a double-forked daemon that called setsid) are re-parented to
  us instead of init, so `kill_tree` still finds them.
* `tree()`, `tree_rss_mb()`, `kill_tree()`: a process tree read from /proc/<pid>/task/*/children.
* Strict mode (grading someone else's file), strongest first:
  - "bwrap": the sandbox runs under bubblewrap: a read-only system, only Python's own folders, the course's
    solutions/ and graders/ replaced by empty folders, a private /tmp holding only the learner's file, new
    PID, network, IPC and user namespaces.
  - "user": running as root without bubblewrap: the sandbox enters a private mount and network namespace, the
    course's folders, home folders and the caller's folders are covered by empty ones (Python's own folders are
    put back, read-only), and it drops to an unprivileged user of its own (a uid per run).
  - "process": neither is possible; the learner's code runs as the caller in a separate process, and the
    result says so.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

RUN_UID_BASE = 1_600_000_000  # strict "user" isolation runs the sandbox as RUN_UID_BASE + the verifier's pid

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _prctl(option: int, arg: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _c().prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def harden() -> bool:
    """Make this process non-dumpable; True when it worked (Linux)."""
    return _prctl(PR_SET_DUMPABLE, 0)


def become_subreaper() -> bool:
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    return _prctl(PR_SET_PDEATHSIG, sig)


def no_new_privileges() -> bool:
    return _prctl(PR_SET_NO_NEW_PRIVS, 1)


# -- process trees -------------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def tree(pid: int) -> list[int]:
    """The descendants of `pid` (not `pid` itself), parents before children."""
    out, todo, seen = [], [pid], {pid}
    while todo:
        for child in children(todo.pop()):
            if child not in seen:
                seen.add(child)
                out.append(child)
                todo.append(child)
    return out


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of every descendant of `pid` (not `pid` itself), in MB."""
    return sum(rss_mb(p) for p in tree(pid))


def processes_of_uid(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                found.append(int(name))
        except OSError:
            continue
    return found


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def kill_tree(pid: int, *, include_root: bool = False, uid: int | None = None, rounds: int = 200) -> bool:
    """SIGKILL every descendant of `pid` (and every process of `uid`, when given), again and again until none
    is left; reap those that are our own children. True when the tree is empty at the end."""
    for _ in range(rounds):
        victims = tree(pid)
        if uid is not None:
            victims += [p for p in processes_of_uid(uid) if p not in victims]
        if include_root:
            victims.append(pid)
        alive = []
        for p in victims:
            try:
                os.kill(p, signal.SIGKILL)
                alive.append(p)
            except (ProcessLookupError, PermissionError):
                pass
        for p in alive:
            _reap(p)
        if include_root:
            _reap(pid)
        if not alive:
            return True
        time.sleep(0.002)
    return not tree(pid)


def sweep_strays(known: set[int]) -> int:
    """Kill and reap children of this process that it did not start and that left its session (daemons of a
    learner's code re-parented to us after the process that should have caught them died). Returns how many."""
    me = os.getpid()
    try:
        session = os.getsid(0)
    except OSError:
        return 0
    killed = 0
    for child in children(me):
        if child in known:
            continue
        try:
            if os.getsid(child) == session:
                continue  # started by this process itself (an editor, say): not ours to kill
        except OSError:
            continue
        kill_tree(child, include_root=True)
        killed += 1
    return killed


# -- strict mode -----------------------------------------------------------------------------------------------------

_BWRAP_OK: bool | None = None


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_works() -> bool:
    """bubblewrap is installed and can create the namespaces we ask for (cached)."""
    global _BWRAP_OK
    if _BWRAP_OK is None:
        path = bwrap_path()
        _BWRAP_OK = False
        if path:
            try:
                probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent",
                                        "--proc", "/proc", "true"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
                _BWRAP_OK = probe.returncode == 0
            except (OSError, subprocess.SubprocessError):
                _BWRAP_OK = False
    return _BWRAP_OK


def can_switch_user() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform.startswith("linux")


def strict_isolation() -> str:
    """The strongest isolation available for strict mode here: "bwrap", "user" or "process".

    D2L_TUTOR_ISOLATION=user|process asks for a weaker one (to test each path on one machine)."""
    asked = os.environ.get("D2L_TUTOR_ISOLATION", "")
    if asked == "process" or (asked == "user" and can_switch_user()):
        return asked
    if bwrap_works():
        return "bwrap"
    if can_switch_user():
        return "user"
    return "process"


ISOLATION_NOTES = {
    "bwrap": "the learner's code ran under bubblewrap: it could read only the system, Python and its own file",
    "user": "the learner's code ran as an unprivileged user of its own, with the course's and the caller's "
            "folders hidden",
    "process": "the learner's code ran as you, in a separate process only (install bubblewrap, or run as root, "
               "to keep it from reading your files)",
}


def python_paths() -> list[str]:
    """The folders Python needs to import anything: prefixes, the interpreter's folder and sys.path entries."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(sys.executable)}
    for p in sys.path:
        if p and os.path.isdir(p):
            paths.add(p)
    out = set()
    for p in paths:
        for q in (p, os.path.realpath(p)):
            if q and os.path.isdir(q) and q != "/":
                out.add(os.path.normpath(q))
    return sorted(out)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _top_level(paths: list[str]) -> list[str]:
    """Drop every path that lies inside another one in the list."""
    out = []
    for p in sorted(set(paths), key=len):
        if not any(_inside(p, q) for q in out):
            out.append(p)
    return out


SANDBOX_DIR = "/tmp/d2l-sandbox"


def bwrap_command(python_cmd: list[str], *, learner_file: str, learner_name: str, hidden: list[str],
                  cuda: bool) -> list[str]:
    """The bubblewrap command line that runs `python_cmd` with only the system, Python and the learner's file."""
    cmd = [bwrap_path() or "bwrap", "--die-with-parent", "--unshare-all", "--unshare-user", "--uid", "65534",
           "--gid", "65534", "--hostname", "sandbox"]
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"):
        if os.path.exists(d):
            cmd += ["--ro-bind", d, d]
    # bubblewrap applies its options in order: the private /tmp first, so that Python's folders bound after it
    # stay visible even when they live under /tmp (a virtual environment in a CI checkout there, say)
    cmd += ["--tmpfs", "/tmp"]
    for p in _top_level([p for p in python_paths() if not any(_inside(p, d) for d in ("/usr", "/bin", "/lib"))]):
        cmd += ["--ro-bind", p, p]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    if cuda:
        for name in sorted(os.listdir("/dev")):
            if name.startswith("nvidia"):
                cmd += ["--dev-bind-try", f"/dev/{name}", f"/dev/{name}"]
    for d in hidden:
        if os.path.isdir(d):
            cmd += ["--tmpfs", d]
    cmd += ["--dir", SANDBOX_DIR, "--ro-bind", learner_file, f"{SANDBOX_DIR}/{learner_name}",
            "--chdir", SANDBOX_DIR, "--setenv", "HOME", SANDBOX_DIR, "--"]
    return cmd + python_cmd


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    if _c().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _cover(path: str, keep: list[str], options: str = "mode=0755,size=4m") -> None:
    """Cover `path` with an empty tmpfs, then bind the folders in `keep` (inside it) back, read-only."""
    inner = _top_level([k for k in keep if _inside(k, path) and k != path])
    fds = [os.open(k, os.O_PATH | os.O_DIRECTORY) for k in inner]
    try:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)
        for k, fd in zip(inner, fds):
            os.makedirs(k, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)
            _mount(None, k, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    finally:
        for fd in fds:
            os.close(fd)


def enter_user_isolation(*, uid: int, hidden: list[str], learner_source: bytes, learner_name: str) -> str:
    """In the sandbox, as root, before any learner code: a private mount, network and IPC namespace in which the
    course's folders, the home folders, /tmp and the caller's folders are empty; Python's folders are put back
    read-only; the learner's file is copied into a private /tmp/d2l-sandbox; then become `uid`, for good.
    Returns the path of the learner's file. Raises OSError when the kernel refuses."""
    if _c().unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = python_paths()
    covers = set(hidden) | {"/tmp", "/root", "/home", "/var/tmp", "/dev/shm", "/run/user"}
    home = os.environ.get("HOME")
    if home:
        covers.add(home)
    explicit = {os.path.normpath(p) for p in hidden if p}
    for path in sorted({os.path.normpath(p) for p in covers if p}, key=len):
        if path == "/" or path in keep or not os.path.isdir(path):
            continue  # a folder Python itself is imported from stays; one covered already is gone
        if any(_inside(path, k) for k in keep) and path not in explicit:
            continue  # a default cover inside Python's folders: leave Python whole
        # (covered shortest first: /tmp becomes private before anything inside it is covered; Python's folders
        # under it, a virtual environment in a CI checkout say, are bound back)
        _cover(path, keep, "mode=1777,size=256m" if path == "/tmp" else "mode=0755,size=4m")
    os.makedirs(SANDBOX_DIR, mode=0o700)
    target = os.path.join(SANDBOX_DIR, learner_name)
    with open(target, "wb") as fh:
        fh.write(learner_source)
    os.chown(SANDBOX_DIR, uid, uid)
    os.chown(target, uid, uid)
    no_new_privileges()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.environ["HOME"] = SANDBOX_DIR
    os.chdir(SANDBOX_DIR)
    return target


def _enter_user_namespace() -> None:
    uid, gid = os.getuid(), os.getgid()
    if _c().unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
        except OSError:
            if name != "setgroups":
                raise


def cover_folders(paths: list[str]) -> bool:
    """Cover `paths` (the course's solutions/ and graders/, a workspace's .d2l-tutor) with empty folders for this
    process and its children, without any privilege: a user and mount namespace of our own, then a second, nested
    one, in which those covers are locked (the learner's code, even as root in there, cannot unmount them). Must run while the
    process has a single thread. False when the kernel does not allow it (nothing is changed then)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        _enter_user_namespace()
    except OSError:
        return False
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        for path in paths:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16k")
        _enter_user_namespace()
    except OSError:
        return False
    return True


def hidden_from(path: str) -> bool:
    """True when this process cannot read `path` (or it is not there)."""
    try:
        if os.path.isdir(path):
            return not os.listdir(path)
        with open(path, "rb"):
            return False
    except OSError:
        return True


def learner_copy_name(file: str) -> str:
    return Path(file).name
