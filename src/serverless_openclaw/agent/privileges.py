"""OpenClaw without the keys to the house: two users, one environment each, nothing to steal.

OpenClaw's agent can run tools on the task, and with `SOC_AGENT_TOOLS=shell` a shell. Anything
the gateway's user can read, the model can read: same-uid processes' `/proc/<pid>/environ`
(the supervisor's holds the Telegram token, the AWS credentials URI, the LLM keys), their
files, their memory. So when the task starts as root (the container does, only for this), the
supervisor:

1. prepares the gateway's directories for the `openclaw` user (its state dir, HOME, TMPDIR and
   log dir; `soc/`, where the supervisor keeps its device key, stays the supervisor's, 0700;
   `openclaw.json` becomes the supervisor's, 0640, read-only to OpenClaw);
2. starts the gateway as `openclaw` (no supplementary groups, umask 007 so that the supervisor
   can back its files up through the `openclaw` group), with `gateway_environment`'s short
   list of variables;
3. drops itself to the `agent` user (`setgroups([openclaw])`, `setresgid`, `setresuid`) and
   makes itself not dumpable (`PR_SET_DUMPABLE` 0: its /proc files become root's, nothing can
   ptrace it).

The saved set-user-ID stays 0. That is the price of restarting the gateway after a crash as
another user (only root may), and of signalling it (a process may signal only its own
user's). It is taken back only for that, in the forked child before exec (`become`) and around
a `kill()` (`privileged`); the effective and real ids are `agent` the rest of the time. The
alternatives, and why not, are in docs/security.md ("What the agent can reach").

`decide()` is the pure part (root? both users? can the gateway's user reach the install and
its dirs? which policy then?); `PrivilegeEffects` does what a plan says.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from serverless_openclaw.contracts.records import AgentTools, ModelProvider

log = logging.getLogger(__name__)

SUPERVISOR_USER: Final = "agent"
GATEWAY_USER: Final = "openclaw"
GATEWAY_UMASK: Final = 0o007
"""The gateway's files are group-readable and -writable (group `openclaw`): the supervisor,
a member of that group, backs them up and restores into them; others get nothing."""
CONFIG_FILE: Final = "openclaw.json"
PRIVATE_DIR: Final = "soc"
"""The supervisor's own directory inside the state dir (its device key): never the gateway's."""

_PR_SET_DUMPABLE = 4
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Facts:
    """What `decide` needs to know about the machine (`PrivilegeEffects.observe` finds it)."""

    euid: int
    supervisor: Account | None
    gateway: Account | None
    unreachable: tuple[str, ...] = ()
    """Paths the gateway's user could not reach (the install, the parents of its dirs)."""
    disabled: str | None = None
    """Why separation is not even tried (e.g. a supervisor built without PrivilegeEffects)."""


@dataclass(frozen=True)
class PrivilegePlan:
    separate: bool
    """True: the gateway runs as `gateway`, the supervisor drops to `supervisor`."""
    tools: AgentTools
    """The policy in force (`shell` only with the separation)."""
    reasons: tuple[str, ...] = ()
    supervisor: Account | None = None
    gateway: Account | None = None
    drop: bool = True
    """False: the supervisor stays root (the local stack's embedded store is root's files)."""

    def describe(self) -> str:
        """The log line that says what OpenClaw can reach on this task."""
        if self.separate and self.gateway and self.supervisor:
            sup = (
                f"the supervisor as {self.supervisor.name} (uid {self.supervisor.uid}, "
                "not dumpable)"
                if self.drop
                else "the supervisor stays root (the local stack's embedded store is root's)"
            )
            who = f"OpenClaw runs as {self.gateway.name} (uid {self.gateway.uid}), {sup}"
        else:
            who = "uid separation is OFF: OpenClaw runs as the supervisor's user"
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"agent tools: {self.tools}; {who}{why}"


def decide(
    facts: Facts, *, tools: AgentTools, provider: ModelProvider, embedded_store: bool = False
) -> PrivilegePlan:
    """Separate when we can; allow the shell only when separated and no AWS credential has to
    be in OpenClaw's environment (Bedrock signs with the task role's).

    `embedded_store`: the local stack's SQLite store, which the supervisor writes and which a
    stack run as root owns; the supervisor then stays root (OpenClaw still cannot reach it:
    another user, and root's /proc files are root's). On the task the store is AWS's.
    """
    reasons: list[str] = []
    if facts.disabled:
        reasons.append(facts.disabled)
    elif facts.euid != 0:
        reasons.append("the agent was not started as root")
    elif facts.supervisor is None or facts.gateway is None:
        missing = [
            name
            for name, account in (
                (SUPERVISOR_USER, facts.supervisor),
                (GATEWAY_USER, facts.gateway),
            )
            if account is None
        ]
        reasons.append(f"no user {' or '.join(missing)} on this machine")
    elif facts.unreachable:
        reasons.append(
            f"user {GATEWAY_USER} cannot reach {', '.join(facts.unreachable)} "
            "(every parent directory needs o+x, the install o+r)"
        )
    separate = not reasons
    effective: AgentTools = tools
    if tools == "shell" and not separate:
        effective = "safe"
        reasons.append("the shell needs the uid separation, so the agent gets no shell")
    elif tools == "shell" and provider == "bedrock":
        effective = "safe"
        reasons.append(
            "Bedrock signs with the task role's credentials, which OpenClaw's environment "
            "then holds and a shell could use, so the agent gets no shell"
        )
    return PrivilegePlan(
        separate=separate,
        tools=effective,
        reasons=tuple(reasons),
        supervisor=facts.supervisor if separate else None,
        gateway=facts.gateway if separate else None,
        drop=separate and not embedded_store,
    )


@dataclass(frozen=True)
class GatewayLayout:
    """The directories OpenClaw writes to."""

    state_dir: Path
    home: Path
    tmp: Path
    logs: Path

    @property
    def private(self) -> Path:
        return self.state_dir / PRIVATE_DIR


@dataclass(frozen=True)
class DirRule:
    path: Path
    uid: int
    gid: int
    mode: int


def dir_rules(plan: PrivilegePlan, layout: GatewayLayout) -> list[DirRule]:
    """Who owns which of the gateway's directories, and with which mode (in this order).

    The state dir is the gateway's and its group's (the supervisor is in that group: backups);
    its HOME and TMPDIR are the gateway's alone; the log dir is shared (the supervisor writes
    the gateway's stdout there, OpenClaw its own log); `soc/` is the supervisor's alone.
    """
    if not (plan.separate and plan.gateway and plan.supervisor):
        return []
    gw, sup = plan.gateway, plan.supervisor
    return [
        DirRule(layout.state_dir, gw.uid, gw.gid, 0o770),
        DirRule(layout.home, gw.uid, gw.gid, 0o700),
        DirRule(layout.tmp, gw.uid, gw.gid, 0o700),
        DirRule(layout.logs, sup.uid, gw.gid, 0o2770),
        DirRule(layout.private, sup.uid, sup.gid, 0o700),
    ]


def reachable_by_others(path: Path, mode_of: Callable[[Path], int | None]) -> bool:
    """Whether a user with no special rights can reach `path` (and read it when it is the
    install): every existing ancestor must be searchable by others (o+x)."""
    for ancestor in [*reversed(path.parents), path]:
        mode = mode_of(ancestor)
        if mode is None:  # not created yet: we create it (0755 under umask 022)
            return True
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return True


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None


def _account(name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(name, entry.pw_uid, entry.pw_gid)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def _set_fsuid(uid: int) -> None:
    """This thread's file-system uid only (a raw syscall: not broadcast to other threads)."""
    ctypes.CDLL(None, use_errno=True).setfsuid(uid)


def set_not_dumpable() -> None:
    """No core dump, no ptrace, and /proc/<pid>/{environ,mem,…} owned by root."""
    _prctl(_PR_SET_DUMPABLE, 0)


@dataclass(frozen=True)
class GatewayUser:
    """How the gateway process is started as `openclaw` (gateway_process.RunAs).

    `become()` runs in the forked child before exec: the saved uid 0 it inherited lets it take
    root back for a moment, give up every group, and become `openclaw` for good (real,
    effective and saved ids; no capability survives). `privileged()` is for the parent's
    signals: only root may signal another user's processes.
    """

    account: Account
    supervisor: Account
    umask: int = GATEWAY_UMASK

    @property
    def uid(self) -> int:
        return self.account.uid

    @property
    def gid(self) -> int:
        return self.account.gid

    def become(self) -> None:
        os.seteuid(0)
        os.setgroups([])
        os.setresgid(self.gid, self.gid, self.gid)
        os.setresuid(self.uid, self.uid, self.uid)
        os.umask(self.umask)
        with contextlib.suppress(OSError):  # cleared by the uid change; set it again
            _prctl(_PR_SET_PDEATHSIG, 9)

    @contextlib.contextmanager
    def privileged(self) -> Iterator[None]:
        if os.geteuid() == 0:  # before the drop
            yield
            return
        os.seteuid(0)
        try:
            yield
        finally:
            os.seteuid(self.supervisor.uid)
            set_not_dumpable()  # a uid change resets it to the system default


@dataclass
class PrivilegeEffects:
    """The side effects of a plan: observing the machine, owning dirs, dropping root."""

    account: Callable[[str], Account | None] = _account
    mode_of: Callable[[Path], int | None] = _mode
    _dropped: bool = field(default=False, init=False)
    _supervisor_uid: int | None = field(default=None, init=False)

    def observe(self, *, reach: Sequence[Path]) -> Facts:
        return Facts(
            euid=os.geteuid(),
            supervisor=self.account(SUPERVISOR_USER),
            gateway=self.account(GATEWAY_USER),
            unreachable=tuple(str(p) for p in reach if not reachable_by_others(p, self.mode_of)),
        )

    def prepare(self, plan: PrivilegePlan, layout: GatewayLayout) -> None:
        """As root, before the gateway first starts: what it restored becomes the gateway's
        (lchown: never follow a link), and each directory gets its owner and mode."""
        rules = dir_rules(plan, layout)
        if not rules or plan.gateway is None or plan.supervisor is None:
            return
        gw, sup = plan.gateway, plan.supervisor
        # What restore and `openclaw config validate` (run as root) left there.
        for top in (layout.state_dir, layout.home, layout.tmp, layout.logs):
            for root, dirs, files in os.walk(top):
                for name in [*dirs, *files]:
                    path = os.path.join(root, name)
                    os.chown(path, gw.uid, gw.gid, follow_symlinks=False)
                    if not os.path.islink(path):
                        mode = os.lstat(path).st_mode
                        os.chmod(path, stat.S_IMODE(mode) | (mode & 0o700) >> 3)  # g = u
        for rule in rules:
            rule.path.mkdir(parents=True, exist_ok=True)
            os.chown(rule.path, rule.uid, rule.gid, follow_symlinks=False)
            os.chmod(rule.path, rule.mode)
        config = layout.state_dir / CONFIG_FILE
        if config.is_file() and not config.is_symlink():  # ours: OpenClaw reads it only
            os.chown(config, sup.uid, gw.gid, follow_symlinks=False)
            os.chmod(config, 0o640)
        for child in layout.private.iterdir():
            os.chown(child, sup.uid, sup.gid, follow_symlinks=False)
            if not child.is_symlink():
                os.chmod(child, 0o600)

    def drop(self, plan: PrivilegePlan) -> None:
        """The supervisor becomes `agent` (saved uid 0 kept: see the module docstring)."""
        if not (plan.separate and plan.drop and plan.supervisor and plan.gateway):
            return
        if self._dropped:
            return
        sup = plan.supervisor
        os.setgroups([plan.gateway.gid])
        os.setresgid(sup.gid, sup.gid, sup.gid)
        os.setresuid(sup.uid, sup.uid, 0)
        set_not_dumpable()
        self._dropped, self._supervisor_uid = True, sup.uid
        log.info("supervisor dropped to %s (uid %d), not dumpable", sup.name, sup.uid)

    @contextlib.contextmanager
    def file_access(self) -> Iterator[None]:
        """Root's access to files, for the calling thread only, while the supervisor backs up
        OpenClaw's state: OpenClaw creates its databases 0600, so the `openclaw` group is not
        enough (measured: tests/openclaw/test_inside.py). The effective uid stays `agent`;
        only this thread's file-system uid is 0, until the backup is done. (A `privileged()`
        signal meanwhile resets every thread's fsuid: that backup then skips what it could not
        read, and the next one takes it.)"""
        if not self._dropped or self._supervisor_uid is None:
            yield
            return
        _set_fsuid(0)
        set_not_dumpable()  # a credential change sets it to the system's default
        try:
            yield
        finally:
            _set_fsuid(self._supervisor_uid)
            set_not_dumpable()

    def gateway_user(self, plan: PrivilegePlan) -> GatewayUser | None:
        if not (plan.separate and plan.gateway and plan.supervisor):
            return None
        return GatewayUser(plan.gateway, plan.supervisor)
