"""Routing table and node.toml: grouping per next hop, specificity, defaults, loop avoidance."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange_axis.config import ConfigError, GeneratedCommunes, generated_communes, load
from exchange_axis.routing import LOCAL, NATIONAL, RoutingTable


def test_generated_commune_codes_are_distinct_valid_and_clear_of_districts() -> None:
    from edoc.agency import AgencyCode

    codes = [c for c, _ in generated_communes(GeneratedCommunes(count=3321))]
    assert len(set(codes)) == 3321
    for code in codes[:200] + codes[-200:]:
        parsed = AgencyCode.parse(code)
        assert str(parsed) == code
        assert code.split(".")[2] >= "50"


def test_directive_to_3321_communes_on_10_hubs_is_10_transfers() -> None:
    routes = []
    all_codes = []
    for hub in range(10):
        spec = GeneratedCommunes(count=333 if hub < 9 else 3321 - 9 * 333, start=hub * 333)
        codes = [c for c, _ in generated_communes(spec)]
        all_codes += codes
        routes += [(code, f"hub{hub}") for code in codes]
    table = RoutingTable({"000.00.00.H41"}, routes)
    plan = table.plan(all_codes)
    assert len(plan.hops) == 10
    assert sum(len(v) for v in plan.hops.values()) == 3321
    assert not plan.unroutable


def test_most_specific_route_wins_then_upstream_then_national() -> None:
    table = RoutingTable(
        {"000.00.32.H41"},
        [("*.H41", "province"), ("*.*.32.H41", "communes-of-32")],
        upstream="province",
    )
    assert table.next_hop("000.00.32.H41") == LOCAL
    assert table.next_hop("000.05.32.H41") == "communes-of-32"
    assert table.next_hop("000.00.00.H41") == "province"
    assert table.next_hop("000.00.00.G22") == "province"  # default route up
    top = RoutingTable({"000.00.00.H41"}, [("*.H41", "hub")], national=True)
    assert top.next_hop("000.00.00.G22") == NATIONAL
    assert RoutingTable({"000.00.00.H41"}).next_hop("000.00.00.G22") is None


def test_plan_never_bounces_back_to_where_a_package_came_from() -> None:
    table = RoutingTable({"000.01.00.H41"}, upstream="province")
    plan = table.plan(["000.01.00.H41", "000.09.00.H41", "000.01.00.H41"], came_from="province")
    assert plan.local == ["000.01.00.H41"]
    assert plan.unroutable == ["000.09.00.H41"]


def test_config_loads_resolves_paths_and_refuses_unknown_peers(tmp_path: Path) -> None:
    good = tmp_path / "node.toml"
    good.write_text(
        'name = "hub"\nlisten = "127.0.0.1:9443"\ndatabase_url = "sqlite:///db.sqlite"\n'
        'store_url = "objects"\nupstream = "province"\n'
        '[tls]\ncert = "c.pem"\nkey = "k.pem"\nca = "ca.pem"\n'
        '[generated_communes]\ncount = 5\n'
        '[[agencies]]\ncode = "000.01.00.H41"\nname = "UBND phường Trường Vinh"\n'
        '[[peers]]\nname = "province"\nurl = "https://127.0.0.1:1"\nfingerprint = "AB:CD"\n'
        '[[routes]]\npattern = "*.*.32.H41"\npeer = "province"\n',
        encoding="utf-8")
    cfg = load(good)
    assert cfg.port == 9443
    assert cfg.tls.cert == tmp_path / "c.pem"
    assert cfg.database_url == f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert cfg.store_url == str(tmp_path / "objects")
    assert len(cfg.hosted()) == 6
    assert cfg.peers[0].fingerprint == "abcd"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace('peer = "province"', 'peer = "x"'),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(bad)
    assert "chưa khai báo" in info.value.message_vi and "undeclared" in info.value.message_en
    with pytest.raises(ConfigError):
        load(tmp_path / "missing.toml")


def test_a_peer_speaks_only_for_agencies_routed_through_it() -> None:
    """``behind``: an explicit route (any matching one) puts an agency behind its peer; the
    upstream speaks for what no explicit route claims; ``speaks_for`` adds relays the table
    cannot show; nothing hosted here is behind anyone."""
    table = RoutingTable(
        {"000.01.00.H41"},
        [("*.*.32.H41", "district"), ("*.H41", "hub"), ("000.07.00.H41", "ward")],
        upstream="province", speaks_for={"district": ["000.00.00.H41"]})
    assert table.behind("ward", "000.07.00.H41")
    assert not table.behind("ward", "000.00.00.H41")  # a commune node posing as the province
    assert not table.behind("ward", "000.08.00.H41")  # nor as another commune
    assert table.behind("district", "000.05.32.H41") and table.behind("hub", "000.05.32.H41")
    assert not table.behind("province", "000.05.32.H41")  # routed down: not the upstream's
    assert table.behind("province", "000.00.00.G01")  # the rest of the country is upstream
    assert not table.behind("hub", "000.00.00.G01")
    assert table.behind("district", "000.00.00.H41")  # declared relay
    assert not table.behind("district", "000.01.00.H41")  # hosted here: never a peer's
    assert not RoutingTable({"x"}, [("a*", "p")]).behind("p", "b")  # no route at all: nobody
