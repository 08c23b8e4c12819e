"""Who may do what in the e-office application: ONE table, read by every route and by the tests.

Roles are those of a Vietnamese agency's document work (Decree 30/2020, Chapter III):
- ``leader`` (lãnh đạo): signs outgoing documents personally, reads everything of the agency,
  sees its reports;
- ``clerk`` (văn thư): numbers, seals and issues outgoing documents; registers incoming ones:
  accepts (03), rejects with a reason (02), assigns (04) to a specialist;
- ``specialist`` (chuyên viên): drafts, processes the documents assigned to him (05, 06);
- ``operator`` (quản trị): manages the agency's accounts, the node's queues and retries; reads
  no document content;
- ``auditor`` (kiểm tra): reads everything of the agency, changes nothing.

Every route names one :class:`Action`; a request passes when one of the caller's roles is in
``PERMISSIONS[action]``, AND the object it touches belongs to the caller's agency (checked by the
route's query, which always filters on the caller's agency, so an id of another agency is "not
found", never "forbidden": ids are not an oracle).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LEADER = "leader"
    CLERK = "clerk"
    SPECIALIST = "specialist"
    OPERATOR = "operator"
    AUDITOR = "auditor"

    @property
    def label_vi(self) -> str:
        return {"leader": "Lãnh đạo", "clerk": "Văn thư", "specialist": "Chuyên viên",
                "operator": "Quản trị", "auditor": "Kiểm tra"}[self.value]


class Action(StrEnum):
    # outgoing
    DRAFT_CREATE = "draft.create"
    OUTGOING_READ = "outgoing.read"
    SIGN_PERSONAL = "outgoing.sign"
    NUMBER = "outgoing.number"
    SEAL = "outgoing.seal"
    ISSUE = "outgoing.issue"
    # incoming
    INBOX_READ = "incoming.read"
    ACCEPT = "incoming.accept"
    REJECT = "incoming.reject"
    ASSIGN = "incoming.assign"
    PROCESS = "incoming.process"
    # registers, reports, audit
    REGISTER_READ = "register.read"
    REPORT_READ = "report.read"
    AUDIT_READ = "audit.read"
    # directory and administration
    DIRECTORY_READ = "directory.read"
    USER_MANAGE = "user.manage"
    QUEUE_MANAGE = "queue.manage"
    METRICS_READ = "metrics.read"
    # one's own account
    SELF = "self"


L, C, S, OP, A = Role.LEADER, Role.CLERK, Role.SPECIALIST, Role.OPERATOR, Role.AUDITOR
EVERYONE = frozenset(Role)
READERS = frozenset({L, C, S, A})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.DRAFT_CREATE: frozenset({S, L, C}),
    Action.OUTGOING_READ: READERS,
    Action.SIGN_PERSONAL: frozenset({L}),
    Action.NUMBER: frozenset({C}),
    Action.SEAL: frozenset({C}),
    Action.ISSUE: frozenset({C}),
    Action.INBOX_READ: READERS,
    Action.ACCEPT: frozenset({C}),
    Action.REJECT: frozenset({C}),
    Action.ASSIGN: frozenset({C, L}),
    Action.PROCESS: frozenset({S, C}),
    Action.REGISTER_READ: frozenset({C, L, A}),
    Action.REPORT_READ: frozenset({L, A, C}),
    Action.AUDIT_READ: frozenset({A, OP}),
    Action.DIRECTORY_READ: EVERYONE,
    Action.USER_MANAGE: frozenset({OP}),
    Action.QUEUE_MANAGE: frozenset({OP}),
    Action.METRICS_READ: frozenset({OP}),
    Action.SELF: EVERYONE,
}

#: Actions a specialist may take only on documents assigned to him.
ASSIGNED_ONLY: dict[Action, frozenset[Role]] = {Action.PROCESS: frozenset({S})}


def allowed(roles: frozenset[str] | set[str], action: Action) -> bool:
    """Whether any of ``roles`` may take ``action`` (unknown role names grant nothing)."""
    return any(r in PERMISSIONS[action] for r in roles)


def parse_roles(values: list[str] | str) -> list[str]:
    """Role names from the CLI or the API (``clerk,leader``); an unknown one is refused."""
    items = values.split(",") if isinstance(values, str) else values
    out = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        try:
            out.append(Role(name).value)
        except ValueError:
            raise ValueError(
                f"vai trò '{name}' không có; dùng: {', '.join(r.value for r in Role)} "
                f"(unknown role '{name}')") from None
    if not out:
        raise ValueError("cần ít nhất một vai trò (at least one role is needed)")
    return sorted(set(out))
