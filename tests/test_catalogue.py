"""The catalogue format (spec/catalogue.md §2-§6): loading, clear errors, naming, golden outputs."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.catalogue import CatalogueError, load_catalogue
from codegen.catalogue.cli import main as codegen_main
from codegen.catalogue.cli import render_all
from codegen.catalogue.loader import parse_catalogue
from codegen.catalogue.names import camel, error_class, pascal, snake

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop" / "shop.wsmq.yaml"
KITCHEN = ROOT / "tests" / "catalogue" / "kitchen.wsmq.yaml"
GOLDEN = ROOT / "tests" / "catalogue" / "golden"


def _shop() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SHOP.read_text(encoding="utf-8"))
    return data


def _problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(data, Path("bad.wsmq.yaml"))
    assert str(info.value).startswith("invalid catalogue")
    for p in info.value.problems:
        assert p.file == "bad.wsmq.yaml"
        assert str(p).startswith(f"bad.wsmq.yaml: {p.pointer or '/'}: ")
    return [(p.pointer, p.message) for p in info.value.problems]


def test_the_shop_catalogue_loads_with_the_names_of_spec_section_6() -> None:
    cat = load_catalogue(SHOP)
    assert cat.class_prefix == "Shop"
    ops = {op.topic: op for op in cat.operations}
    create = ops["orders.create"]
    assert (create.kind, create.sender, create.body_type, create.response_type) == (
        "request",
        "client",
        "OrdersCreateRequest",
        "Order",
    )
    assert create.errors == ("OUT_OF_STOCK",)
    assert ops["ui.confirm"].response_type == "UiConfirmResponse"
    chat = ops["chat.{room}.message"]
    assert (chat.params, chat.snake, chat.camel, chat.pattern) == (
        ("room",),
        "chat_message",
        "chatMessage",
        "chat.*.message",
    )
    assert [n.name for n in cat.named] == [
        "Order",
        "OrdersCreateRequest",
        "UiConfirmRequest",
        "UiConfirmResponse",
        "ChatMessageEvent",
    ]


@pytest.mark.parametrize(
    ("topic", "snake_name", "camel_name", "pascal_name"),
    [
        ("orders.create", "orders_create", "ordersCreate", "OrdersCreate"),
        ("chat.{room}.message", "chat_message", "chatMessage", "ChatMessage"),
        ("basket.check-out", "basket_check_out", "basketCheckOut", "BasketCheckOut"),
        ("userProfile.get_all", "user_profile_get_all", "userProfileGetAll", "UserProfileGetAll"),
        ("v2.items.{id}", "v2_items", "v2Items", "V2Items"),
    ],
)
def test_naming_rules(topic: str, snake_name: str, camel_name: str, pascal_name: str) -> None:
    assert (snake(topic), camel(topic), pascal(topic)) == (snake_name, camel_name, pascal_name)


def test_error_class_names() -> None:
    assert error_class("OUT_OF_STOCK") == "OutOfStock"
    assert error_class("E2E_FAILED") == "E2eFailed"


def _with_topic(topic: str, spec: Any = None) -> dict[str, Any]:
    data = _shop()
    data["topics"][topic] = spec or {"event": {"from": "server", "body": {"type": "string"}}}
    return data


@pytest.mark.parametrize(
    ("topic", "pointer", "needle"),
    [
        ("chat.room{id}", "/topics/chat.room{id}", "must be a whole token"),
        ("chat.*.message", "/topics/chat.*.message", "wildcard"),
        ("orders.>", "/topics/orders.>", "wildcard"),
        ("_internal.mine", "/topics/_internal.mine", "reserved"),
        ("a..b", "/topics/a..b", "empty token"),
        ("chat.{room}.{room}", "/topics/chat.{room}.{room}", "appears twice"),
        ("{room}", "/topics/{room}", "at least one literal token"),
        ("chat.lobby.message", "/topics/chat.lobby.message", "collides with topic"),
        ("a b.c", "/topics/a b.c", "ASCII letters"),
        (".".join(["t"] * 33), "/topics/" + ".".join(["t"] * 33), "at most 32"),
        ("x" * 256, "/topics/" + "x" * 256, "255 bytes"),
    ],
)
def test_bad_topics_are_rejected_with_pointer_and_reason(
    topic: str, pointer: str, needle: str
) -> None:
    problems = _problems(_with_topic(topic))
    assert any(p == pointer and needle in m for p, m in problems), problems


def test_collision_of_generated_method_names() -> None:
    data = _with_topic("orders-updated", {"event": {"from": "server", "body": {"type": "null"}}})
    problems = _problems(data)
    assert any("collides with topic 'orders.updated'" in m for _, m in problems), problems


def test_collision_of_generated_type_names() -> None:
    data = _shop()
    data["types"]["OrdersCreateRequest"] = {"type": "string"}
    problems = _problems(data)
    assert any(
        p == "/topics/orders.create/request/body"
        and "collides with /types/OrdersCreateRequest" in m
        for p, m in problems
    ), problems


MUTATIONS = [
    (
        lambda d: d["topics"]["orders.create"]["request"].__setitem__("from", "clinet"),
        "/topics/orders.create/request/from",
        "is not one of",
    ),
    (
        lambda d: d["topics"]["orders.updated"]["event"]["body"].__setitem__(
            "$ref", "#/types/Ordr"
        ),
        "/topics/orders.updated/event/body/$ref",
        "does not resolve",
    ),
    (
        lambda d: d["topics"]["orders.create"]["request"].__setitem__("errors", ["out_of_stock"]),
        "/topics/orders.create/request/errors/0",
        "does not match",
    ),
    (
        lambda d: d["topics"]["orders.create"]["request"].__setitem__("errors", ["TIMEOUT"]),
        "/topics/orders.create/request/errors/0",
        "standard code",
    ),
    (
        lambda d: d["topics"]["ui.confirm"].__setitem__(
            "event", {"from": "server", "body": {"type": "null"}}
        ),
        "/topics/ui.confirm",
        "exactly one of `request` or `event`",
    ),
    (
        lambda d: d["topics"]["ui.confirm"]["request"].__setitem__("from", "any"),
        "/topics/ui.confirm/request/from",
        "is not one of",
    ),
    (
        lambda d: d["types"]["Order"]["properties"]["qty"].__setitem__("minLength", 1),
        "/types/Order/properties/qty/minLength",
        "does not apply to type 'integer'",
    ),
    (
        lambda d: d["types"]["Order"]["properties"]["qty"].__setitem__("maximum", 0),
        "/types/Order/properties/qty",
        "`minimum` 1 is above `maximum` 0",
    ),
    (
        lambda d: d["types"]["Order"]["required"].append("price"),
        "/types/Order/required",
        "'price' is not in `properties`",
    ),
    (
        lambda d: d["types"]["Order"]["properties"].__setitem__(
            "address", {"type": "object", "properties": {"city": {"type": "string"}}}
        ),
        "/types/Order/properties/address",
        "must be a named type",
    ),
    (
        lambda d: d["types"]["Order"]["properties"]["sku"].__setitem__("pattern", "[A-Z"),
        "/types/Order/properties/sku/pattern",
        "not a valid regular expression",
    ),
    (
        lambda d: d["topics"]["orders.create"]["request"]["body"].__setitem__(
            "examples", [{"sku": "ABC-123", "qty": 0}]
        ),
        "/topics/orders.create/request/body/examples/0",
        "does not fit its schema",
    ),
    (
        lambda d: d["types"]["Order"].__setitem__("oneOf", []),
        "/types/Order",
        "unknown key(s) 'oneOf'",
    ),
    (lambda d: d.__setitem__("wsmq", "2"), "/wsmq", "'1' was expected"),
    (lambda d: d.__setitem__("name", "Shop"), "/name", "does not match"),
    (
        lambda d: d["topics"]["chat.{room}.message"].__setitem__(
            "parameters", {"rooom": {"description": "typo"}}
        ),
        "/topics/chat.{room}.message/parameters/rooom",
        "is not a parameter",
    ),
]


@pytest.mark.parametrize(("mutate", "pointer", "needle"), MUTATIONS)
def test_bad_catalogues_get_file_pointer_and_reason(mutate: Any, pointer: str, needle: str) -> None:
    data = copy.deepcopy(_shop())
    mutate(data)
    problems = _problems(data)
    assert any(p == pointer and needle in m for p, m in problems), problems


def test_every_problem_is_reported_not_only_the_first() -> None:
    data = _with_topic("a.*")
    data["types"]["Order"]["required"].append("price")
    assert len(_problems(data)) == 2


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wsmq.yaml"
    bad.write_text("wsmq: '1'\ntopics: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"broken\.wsmq\.yaml: /: not YAML"):
        load_catalogue(bad)


def test_json_catalogues_load_too(tmp_path: Path) -> None:
    import json

    path = tmp_path / "shop.json"
    path.write_text(json.dumps(_shop()), encoding="utf-8")
    assert len(load_catalogue(path).operations) == 4


def _golden_targets() -> dict[str, Path]:
    return {"python": GOLDEN / "kitchen_sdk", "typescript": GOLDEN / "kitchen_ts"}


def test_golden_outputs_match_the_templates_byte_for_byte() -> None:
    """Golden test (spec/catalogue.md §6.3). After a deliberate template change regenerate with
    ``python -m codegen tests/catalogue/kitchen.wsmq.yaml``
    ``--python tests/catalogue/golden/kitchen_sdk``
    ``--typescript tests/catalogue/golden/kitchen_ts``."""
    rendered = render_all(load_catalogue(KITCHEN), _golden_targets())
    assert sorted(p.name for p in rendered) == sorted(
        ["models.py", "api.py", "__init__.py", "types.ts", "client.ts", "index.ts"]
    )
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} differs from its template"
        first = text.splitlines()[0]
        assert "Generated by `wsmq codegen` from kitchen.wsmq.yaml" in first
        assert "DO NOT EDIT" in text.splitlines()[2]


def test_rendering_is_deterministic() -> None:
    cat = load_catalogue(KITCHEN)
    assert render_all(cat, _golden_targets()) == render_all(
        load_catalogue(KITCHEN), _golden_targets()
    )


def test_check_passes_on_committed_outputs_and_fails_on_a_stale_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = ["examples/shop/shop.wsmq.yaml"]
    targets = ["--python", "examples/shop/shop_sdk", "--typescript", "examples/shop/web/sdk"]
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert codegen_main([*shop, *targets, "--check"]) == 0
    finally:
        os.chdir(cwd)
    out = tmp_path / "sdk"
    assert codegen_main([str(SHOP), "--python", str(out), "--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert codegen_main([str(SHOP), "--python", str(out)]) == 0
    assert codegen_main([str(SHOP), "--python", str(out), "--check"]) == 0
    (out / "api.py").write_text("# edited by hand\n", encoding="utf-8")
    assert codegen_main([str(SHOP), "--python", str(out), "--check"]) == 1


def test_wsmq_codegen_cli_reports_a_bad_catalogue_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wsmq.yaml"
    data = _with_topic("chat.room{id}")
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "websocketmq", "codegen", str(bad), "--python", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc
    assert "bad.wsmq.yaml: /topics/chat.room{id}: token 'room{id}'" in proc.stderr
    assert not (tmp_path / "api.py").exists()


def test_wsmq_codegen_without_a_catalogue_still_checks_the_protocol_models() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "websocketmq", "codegen", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "generated files are up to date" in proc.stdout
