"""Where a package goes next: a table of agency-code patterns → next-hop node.

Resolution for one recipient code, first match wins:
1. hosted here → ``LOCAL``;
2. the most specific explicit route (``fnmatch`` pattern with the most literal characters) — this
   is how a node routes *down* by code prefix (``*.*.32.H41`` → the district node);
3. the ``upstream`` peer (the default route *up* the hierarchy);
4. the national axis, when this node is connected to it.

The same table says who may speak for whom (``behind``): a peer may send documents and statuses
only for agencies a route leads to through it, plus the ``speaks_for`` patterns node.toml gives
that peer (relays the table cannot show).

``plan`` groups recipients per next hop, because one transfer per hop carries every recipient
hosted behind it: a directive to 3,321 communes on 10 hubs is 10 transfers, while statuses stay per
recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from exchange_axis.config import NodeConfig

LOCAL = "@local"
NATIONAL = "@national"
#: Where a package comes from when a node delivers to itself or its operators post (never a hop).
SELF = "@self"


def _specificity(pattern: str) -> int:
    return sum(1 for ch in pattern if ch not in "*?[]")


@dataclass
class Plan:
    """Recipients grouped by next hop; ``unroutable`` are those no hop leads to."""

    hops: dict[str, list[str]] = field(default_factory=dict)
    unroutable: list[str] = field(default_factory=list)

    @property
    def local(self) -> list[str]:
        return self.hops.get(LOCAL, [])

    def remote(self) -> dict[str, list[str]]:
        return {hop: codes for hop, codes in self.hops.items() if hop != LOCAL}


class RoutingTable:
    """Built once from the node config; lookups are pure and cheap (cached per code)."""

    def __init__(
        self,
        hosted: Iterable[str],
        routes: Iterable[tuple[str, str]] = (),
        *,
        upstream: str | None = None,
        national: bool = False,
        speaks_for: dict[str, list[str]] | None = None,
    ) -> None:
        self.hosted = frozenset(hosted)
        self.speaks_for = {peer: list(pats) for peer, pats in (speaks_for or {}).items()}
        # most specific first; stable for equal specificity (file order)
        self.routes = sorted(routes, key=lambda r: -_specificity(r[0]))
        self.upstream = upstream
        self.national = national
        self._cache: dict[str, str | None] = {}

    @classmethod
    def from_config(cls, cfg: NodeConfig) -> RoutingTable:
        return cls(
            cfg.hosted(),
            [(r.pattern, r.peer) for r in cfg.routes],
            upstream=cfg.upstream,
            national=cfg.national is not None,
            speaks_for={p.name: p.speaks_for for p in cfg.peers if p.speaks_for},
        )

    def next_hop(self, code: str) -> str | None:
        """The hop for one code, or None when nothing leads there."""
        if code in self._cache:
            return self._cache[code]
        hop: str | None
        if code in self.hosted:
            hop = LOCAL
        else:
            hop = next((peer for pat, peer in self.routes if fnmatchcase(code, pat)), None)
            if hop is None:
                hop = self.upstream or (NATIONAL if self.national else None)
        self._cache[code] = hop
        return hop

    def behind(self, peer: str, code: str) -> bool:
        """Whether agency ``code`` may be spoken for by ``peer``: documents "from" it and
        statuses "by" it arriving over that peer's connection.

        An agency is behind a peer when a route for it leads there: an explicit route whose
        pattern matches it (any of them, not only the most specific: a province may reach a
        district's communes directly or through the district), or the upstream route when no
        explicit route claims it (the hierarchy above us speaks for everything we do not route
        down ourselves). A relay the routing table cannot show, such as a district node passing
        the province's directives down to our communes, is declared per peer in node.toml with
        ``speaks_for`` patterns. Nothing hosted here is behind any peer."""
        if code in self.hosted:
            return False
        if any(fnmatchcase(code, pat) for pat in self.speaks_for.get(peer, ())):
            return True
        claimed = [hop for pat, hop in self.routes if fnmatchcase(code, pat)]
        if claimed:
            return peer in claimed
        return peer == self.upstream

    def plan(self, recipients: Iterable[str], *, came_from: str | None = None) -> Plan:
        """Group recipients by next hop. A hop equal to ``came_from`` would bounce the package
        back where it came from (a loop), so such recipients are unroutable here."""
        plan = Plan()
        for code in dict.fromkeys(recipients):
            hop = self.next_hop(code)
            if hop is None or (came_from is not None and hop == came_from):
                plan.unroutable.append(code)
            else:
                plan.hops.setdefault(hop, []).append(code)
        return plan
