"""Single-file loading: JSON problems with locations, schema reasons, typed objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hftlib.config import (
    ConfigError,
    ConfigIssue,
    ExchangeConfig,
    ProductionConfig,
    SecretRef,
    StrategyConfig,
    config_instrument,
    instrument_symbol,
    load_exchange,
    load_production,
    load_schema,
    load_strategy_config,
)
from hftlib.config.issues import json_path
from hftlib.config.jsonfile import read_json
from hftlib.config.model import BacktestHints, convert
from hftlib.errors import HftlibError, InstrumentError

EXCHANGE: dict[str, Any] = {
    "exchange_id": "spot",
    "enabled": True,
    "venue": "binance",
    "api_key": "env:TCFG_KEY",
    "api_secret": "file:keys/spot.secret",
    "endpoints": {"rest": "https://api.binance.com", "websocket": "wss://stream.binance.com:9443"},
    "rate_limits": {"orders_per_second": 5, "requests_per_minute": 6000},
    "symbols": ["BTC-USDT", "ETH-USDT"],
}
STRATEGY: dict[str, Any] = {
    "strategy_id": "mm",
    "name": "MM",
    "type": "quote_mm",
    "enabled": True,
    "exchanges": ["spot"],
    "symbols": ["BTC-USDT"],
    "parameters": {"interval_ms": 100, "qty": 0.01, "max_position": 0.1},
    "risk_limits": {"max_position_usd": 1000, "max_order_size_usd": 100},
}
PRODUCTION: dict[str, Any] = {
    "exchanges": ["spot"],
    "strategies": ["mm"],
    "database": {"dsn": "postgresql://u@localhost/db"},
    "api": {"keys": [{"key_id": "ops", "secret": "env:TCFG_API"}]},
    "logging": {"directory": "logs"},
    "risk": {"max_total_position_usd": 10000, "max_daily_loss_usd": 1000},
    "pid_file": "hft.pid",
}
CLASSES = {"production": ProductionConfig, "exchange": ExchangeConfig, "strategy": StrategyConfig}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def issues_of(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {i.json_path: i.reason for i in exc.value.issues}


# --- JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1,\n "b": 2\n "c": 3}', "malformed JSON at line 3, column 2: Expecting ','"),
        ("", "malformed JSON at line 1, column 1"),
        ('{"a": [1, 2}', "malformed JSON at line 1, column 12"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_json_has_line_and_column(tmp_path: Path, text: str, reason: str) -> None:
    doc = read_json(write(tmp_path / "x.json", text), "x.json")
    assert not doc.parsed
    assert len(doc.issues) == 1
    assert doc.issues[0].json_path == "$"
    assert reason in doc.issues[0].reason


def test_duplicate_keys_and_non_finite_numbers_are_located(tmp_path: Path) -> None:
    text = '{"a": {"b": 1, "b": 2}, "c": [NaN, 1e999, -Infinity], "d": 1.5}'
    doc = read_json(write(tmp_path / "x.json", text))
    assert doc.parsed
    found = {(i.json_path, i.reason.split(" ")[-1]) for i in doc.issues}
    assert ("$.a.b", "once") in found
    assert {i.json_path for i in doc.issues} == {"$.a.b", "$.c[0]", "$.c[1]", "$.c[2]"}
    assert doc.bad_paths == ["$.c[0]", "$.c[1]", "$.c[2]"]
    assert doc.data == {"a": {"b": 2}, "c": [None, None, None], "d": 1.5}
    assert type(doc.data["a"]) is dict


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b'{"a": "\xff"}'), "not UTF-8 text (bad byte at offset 7)"),
        (lambda p: p.write_bytes(b" " * (1 << 20) + b"{}"), "larger than"),
    ],
)
def test_unreadable_files(tmp_path: Path, make: Any, reason: str) -> None:
    path = tmp_path / "x.json"
    make(path)
    doc = read_json(path)
    assert not doc.parsed
    assert reason in doc.issues[0].reason


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert read_json(path).data == {"a": 1}


def test_json_path_quotes_unusual_keys() -> None:
    assert json_path([]) == "$"
    assert json_path(["risk_limits", "max_position_usd"]) == "$.risk_limits.max_position_usd"
    assert json_path(["symbols", 1]) == "$.symbols[1]"
    assert json_path(["a b", 'q"', "$schema"]) == '$["a b"]["q\\""]["$schema"]'


# --- loaders ----------------------------------------------------------------------------


def test_load_exchange(tmp_path: Path) -> None:
    path = write(tmp_path / "exchanges" / "spot.json", EXCHANGE)
    cfg = load_exchange(path)
    assert cfg.exchange_id == "spot"
    assert cfg.display_name == "spot"
    assert cfg.api_key == SecretRef("env:TCFG_KEY")
    # a relative file reference is relative to the exchange file's folder
    assert cfg.api_secret.path == tmp_path / "exchanges" / "keys" / "spot.secret"
    assert cfg.symbols == ("BTC-USDT", "ETH-USDT")
    assert cfg.instrument("ETH-USDT").key == "binance:ETHUSDT"


def test_load_strategy_config_and_assets(tmp_path: Path) -> None:
    data = {**STRATEGY, "exchanges": ["a", "b"], "symbols": ["BTC-USDT", "ETH-USDT"]}
    cfg = load_strategy_config(write(tmp_path / "mm.json", data))
    assert cfg.paper_trading is False
    assert cfg.backtest is None
    assert cfg.parameters == {"interval_ms": 100, "qty": 0.01, "max_position": 0.1}
    assert cfg.assets() == (
        ("a", "BTC-USDT"),
        ("a", "ETH-USDT"),
        ("b", "BTC-USDT"),
        ("b", "ETH-USDT"),
    )


def test_load_production_fills_defaults(tmp_path: Path) -> None:
    cfg = load_production(write(tmp_path / "production.json", PRODUCTION))
    assert cfg.api.host == "127.0.0.1"
    assert cfg.api.port == 8080
    assert cfg.api.read_only_open_on_loopback is True
    assert cfg.failover.role == "primary"
    assert cfg.failover.heartbeat_interval_s == 1.0
    assert cfg.failover.missed_heartbeats == 3
    assert cfg.logging.level == "INFO"
    assert cfg.database.pool_min_size == 2
    assert cfg.database.dsn.resolve() == "postgresql://u@localhost/db"
    assert cfg.exchanges_dir == "exchanges"
    assert cfg.cpu_affinity.hot_loop == ()


def test_backtest_hints_give_only_what_is_set(tmp_path: Path) -> None:
    data = {**STRATEGY, "backtest": {"latency": "2ms", "queue": "log", "seed": 7}}
    cfg = load_strategy_config(write(tmp_path / "mm.json", data))
    assert isinstance(cfg.backtest, BacktestHints)
    assert cfg.backtest.kwargs() == {"latency": "2ms", "queue": "log", "seed": 7}


def test_loader_reports_every_problem_at_once(tmp_path: Path) -> None:
    data = {
        **STRATEGY,
        "strategy_id": "Bad Id",
        "enabled": "yes",
        "symbols": ["BTC-USDT", "BTC-USDT", "btc"],
        "parameters": {"interval_ms": "fast", "nope": 1},
        "risk_limits": {"max_order_size_usd": -1, "extra": 1},
        "colour": "red",
    }
    with pytest.raises(ConfigError) as info:
        load_strategy_config(write(tmp_path / "mm.json", data))
    found = issues_of(info)
    assert found == {
        "$.strategy_id": "must be lower case letters, digits and _, starting with a letter, "
        'got "Bad Id"',
        "$.enabled": 'must be true or false, got "yes"',
        "$.symbols[1]": 'repeats item [0] ("BTC-USDT")',
        "$.symbols[2]": "must be upper case letters and digits, parts joined by -, _ or / "
        '(BTC-USDT), got "btc"',
        "$.parameters.interval_ms": 'must be a number or true or false, got "fast"',
        "$.parameters.nope": "unknown parameter of strategy type 'quote_mm'; known: asset, "
        "interval_ms, max_position, offset_ticks, qty",
        "$.risk_limits.max_order_size_usd": "must be > 0, got -1",
        "$.risk_limits.extra": "unknown field; known fields: max_position_usd, "
        "max_order_size_usd, max_open_orders, max_orders_per_second, price_band",
        "$.risk_limits.max_position_usd": "required field is missing",
        "$.colour": "unknown field; known fields: $schema, strategy_id, name, type, enabled, "
        "exchanges, symbols, parameters, risk_limits, paper_trading, backtest",
    }
    assert isinstance(info.value, HftlibError)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("10 configuration errors:\n  ")


def test_issues_follow_the_document_order(tmp_path: Path) -> None:
    data = {"name": 5, "strategy_id": 5, "type": 5}
    with pytest.raises(ConfigError) as info:
        load_strategy_config(write(tmp_path / "mm.json", data))
    paths = [i.json_path for i in info.value.issues]
    assert paths[:3] == ["$.name", "$.strategy_id", "$.type"]  # as written, then missing
    assert set(paths[3:]) == {
        "$.enabled",
        "$.exchanges",
        "$.symbols",
        "$.risk_limits",
    }


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_exchange(write(tmp_path / "spot.json", "[1, 2]"))
    assert info.value.issues == [
        ConfigIssue(str(tmp_path / "spot.json"), "$", "must be an object, got a list")
    ]


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"venue": "Binance Spot"}, "$.venue", "lower case letters, digits, - and _"),
        (
            {"endpoints": {"rest": "ftp://x", "websocket": "wss://x"}},
            "$.endpoints.rest",
            "https://",
        ),
        ({"endpoints": {"rest": "https://", "websocket": "wss://x"}}, "$.endpoints.rest", "URL"),
        (
            {"rate_limits": {"orders_per_second": 0, "requests_per_minute": 1}},
            "$.rate_limits.orders_per_second",
            "must be > 0, got 0",
        ),
        ({"symbols": []}, "$.symbols", "must list at least one item"),
        ({"exchange_id": "other"}, "$.exchange_id", 'differs from the file name "spot"'),
        ({"api_key": "ABCDEF123456"}, "$.api_key", "plain-text secret: use env:NAME or file:PATH"),
        ({"api_key": 12345}, "$.api_key", "must be a string, got a number"),
        ({"api_passphrase": "env:"}, "$.api_passphrase", "environment variable name"),
    ],
)
def test_exchange_rules(tmp_path: Path, change: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_exchange(write(tmp_path / "spot.json", {**EXCHANGE, **change}))
    found = issues_of(info)
    assert path in found, found
    assert reason in found[path]
    assert "ABCDEF123456" not in str(info.value)
    assert "12345" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            {"database": {"dsn": "postgresql://u:pw123456@h/db"}},
            "$.database.dsn",
            "plain-text secret",
        ),
        (
            {"database": {"dsn": "x", "pool_min_size": 5, "pool_max_size": 2}},
            "$.database.pool_max_size",
            "must be >= pool_min_size (5), got 2",
        ),
        (
            {"exchanges": ["spot", "perp", "spot"]},
            "$.exchanges[2]",
            'duplicate exchange id "spot" (also at [0])',
        ),
        ({"strategies": ["mm", "mm"]}, "$.strategies[1]", 'duplicate strategy "mm"'),
        (
            {
                "api": {
                    "keys": [{"key_id": "a", "secret": "env:A"}, {"key_id": "a", "secret": "env:B"}]
                }
            },
            "$.api.keys[1].key_id",
            "duplicate key_id",
        ),
        (
            {"api": {"keys": [{"key_id": "a", "secret": "pw123456"}]}},
            "$.api.keys[0].secret",
            "plain-text secret",
        ),
        ({"api": {"port": 0}}, "$.api.port", "must be >= 1, got 0"),
        (
            {"logging": {"directory": "x", "level": "LOUD"}},
            "$.logging.level",
            'must be one of "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", got "LOUD"',
        ),
        ({"failover": {"role": "leader"}}, "$.failover.role", "must be one of"),
        (
            {"cpu_affinity": {"hot_loop": [1, 1]}},
            "$.cpu_affinity.hot_loop[1]",
            "repeats item [0] (1)",
        ),
        (
            {"risk": {"max_total_position_usd": 1}},
            "$.risk.max_daily_loss_usd",
            "required field is missing",
        ),
    ],
)
def test_production_rules(tmp_path: Path, change: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_production(write(tmp_path / "production.json", {**PRODUCTION, **change}))
    found = issues_of(info)
    assert path in found, found
    assert reason in found[path]
    assert "pw123456" not in str(info.value)


def test_strategy_size_limit_within_position_limit(tmp_path: Path) -> None:
    data = {**STRATEGY, "risk_limits": {"max_position_usd": 100, "max_order_size_usd": 500}}
    with pytest.raises(ConfigError) as info:
        load_strategy_config(write(tmp_path / "mm.json", data))
    assert issues_of(info) == {
        "$.risk_limits.max_order_size_usd": "must be <= max_position_usd (100), got 500"
    }


# --- the model follows the schemas ---------------------------------------------------------


def _struct_fields(cls: type) -> dict[str, tuple[bool, Any, Any]]:
    """Encoded field name -> (required, default, type) of a msgspec Struct."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    out = {}
    for f in info.fields:
        default = f.default if f.default is not msgspec.NODEFAULT else None
        if f.default_factory is not msgspec.NODEFAULT:
            default = msgspec.to_builtins(f.default_factory())
        out[f.encode_name] = (f.required, default, f.type)
    return out


def _check_object(schema: dict[str, Any], root: dict[str, Any], cls: type, where: str) -> None:
    fields = _struct_fields(cls)
    props = schema["properties"]
    assert set(fields) == set(props), where
    assert {n for n, (req, _, _) in fields.items() if req} == set(schema.get("required", ())), where
    for name, raw in props.items():
        prop = {**root.get("$defs", {}).get(raw.get("$ref", "#/$defs/").split("/")[-1], {}), **raw}
        required, default, typ = fields[name]
        if "default" in prop:
            as_json = msgspec.json.decode(msgspec.json.encode(default))
            assert as_json == prop["default"], f"{where}.{name}"
        elif not required:
            # no schema default: the model's is "absent" (None) or an empty container
            assert default in (None, (), {}) or isinstance(typ, msgspec.inspect.StructType), (
                f"{where}.{name}"
            )
        if isinstance(typ, msgspec.inspect.StructType):
            _check_object(prop, root, typ.cls, f"{where}.{name}")
        sub = typ
        if isinstance(sub, msgspec.inspect.UnionType):
            sub = next(t for t in sub.types if not isinstance(t, msgspec.inspect.NoneType))
            if isinstance(sub, msgspec.inspect.StructType):
                _check_object(prop, root, sub.cls, f"{where}.{name}")
        if isinstance(sub, msgspec.inspect.VarTupleType) and isinstance(
            sub.item_type, msgspec.inspect.StructType
        ):
            _check_object(prop["items"], root, sub.item_type.cls, f"{where}.{name}[]")


@pytest.mark.parametrize("kind", ["production", "exchange", "strategy"])
def test_model_fields_and_defaults_match_the_schema(kind: str) -> None:
    schema = load_schema(kind)  # type: ignore[arg-type]
    _check_object(schema, schema, CLASSES[kind], kind)


@pytest.mark.parametrize(
    ("kind", "data", "name"),
    [
        ("production", PRODUCTION, "production.json"),
        ("exchange", EXCHANGE, "spot.json"),
        ("strategy", STRATEGY, "mm.json"),
    ],
)
def test_json_round_trip(tmp_path: Path, kind: str, data: dict[str, Any], name: str) -> None:
    loader = {
        "production": load_production,
        "exchange": load_exchange,
        "strategy": load_strategy_config,
    }[kind]
    cfg = loader(write(tmp_path / name, data))
    again = convert(json.loads(json.dumps(cfg.to_dict())), CLASSES[kind], tmp_path, name)
    assert again == cfg
    # what was written comes back as written; defaults are left out (a section made only
    # of defaults stays as an empty object)
    assert {k: v for k, v in cfg.to_dict().items() if v != {}} == data


def test_configs_are_frozen(tmp_path: Path) -> None:
    cfg = load_exchange(write(tmp_path / "spot.json", EXCHANGE))
    with pytest.raises(AttributeError):
        cfg.enabled = False  # type: ignore[misc]


# --- instruments ----------------------------------------------------------------------------


def test_config_symbols_map_to_instruments() -> None:
    assert instrument_symbol("BTC-USDT") == "BTCUSDT"
    assert instrument_symbol("eth/usdt") == "ETHUSDT"
    assert config_instrument("binance-futures", "BTC-USDT").key == "binance-futures:BTCUSDT"
    # a venue whose symbols keep the separator
    assert config_instrument("deribit", "BTC-PERPETUAL").key == "deribit:BTC-PERPETUAL"
    with pytest.raises(InstrumentError, match="built-in specs for this venue: BTCUSDT, ETHUSDT"):
        config_instrument("binance", "DOGE-USDT")
    with pytest.raises(InstrumentError, match="built-in specs for this venue: none"):
        config_instrument("kraken", "BTC-USD")
