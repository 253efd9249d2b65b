"""bpf_map and the BTF value codec, against maps captured from maps.bpf.c on this kernel."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from ansible.module_utils.bpf_codec import Btf, Codec, CodecError
from ansible.module_utils.bpf_maps import parse_dump_bytes
from conftest import FakeRunner, fixture_json, fixture_text

BTF = Btf(fixture_json("bpftool/btf_dump_maps.json"))


def codecs(map_name: str) -> tuple[Codec, Codec]:
    info = fixture_json(f"bpftool/map_show_{map_name}.json")
    key, value = BTF.map_types([map_name, info["name"]])
    return Codec(BTF, key, info["bytes_key"]), Codec(BTF, value, info["bytes_value"])


def captured(map_name: str, index: int = 0) -> tuple[bytes, bytes]:
    entry = fixture_json(f"bpftool/map_dump_{map_name}.json")[index]
    return parse_dump_bytes(entry["key"]), parse_dump_bytes(entry["value"])


# --- codec ---


def test_struct_with_enum_nested_struct_and_bitfields_matches_the_kernels_bytes():
    key, value = codecs("settings")
    spec = {"mode": "MODE_DROP", "ports": {"lo": 1000, "hi": 2000}, "flags": 5, "rest": 3}
    assert value.encode(spec, "v") == captured("settings", 1)[1]
    assert value.decode(captured("settings", 1)[1]) == {
        "mode": 2,
        "ports": {"lo": 1000, "hi": 2000},
        "flags": 5,
        "rest": 3,
    }
    assert key.encode(1, "k") == captured("settings", 1)[0]


def test_struct_key_and_array_member_match_the_kernels_bytes():
    key, value = codecs("flows")
    flow = {"saddr": 33579786, "daddr": 16802570, "sport": 4000, "dport": 8080, "proto": 17}
    assert key.encode(flow, "k") == captured("flows")[0]
    assert (
        value.encode({"packets": 3, "delta": -2, "mac": [2, 0, 0, 0, 0, 1]}, "v")
        == captured("flows")[1]
    )
    assert value.decode(captured("flows")[1]) == {
        "packets": 3,
        "delta": -2,
        "mac": [2, 0, 0, 0, 0, 1],
    }


def test_fields_left_out_keep_the_current_value():
    _, value = codecs("settings")
    current = captured("settings", 1)[1]
    changed = value.encode({"ports": {"hi": 3000}}, "v", base=current)
    assert value.decode(changed) == {
        "mode": 2,
        "ports": {"lo": 1000, "hi": 3000},
        "flags": 5,
        "rest": 3,
    }


def test_global_data_maps_take_variables_by_name():
    _, value = codecs("maps_data")
    assert value.describe() == "datasec .data"
    assert value.decode(captured("maps_data")[1]) == {"sample_rate": 5}
    assert value.encode({"sample_rate": 10}, "v") == (10).to_bytes(4, "little")


def test_untyped_maps_take_plain_integers():
    _, value = codecs("untyped")
    assert not value.typed and value.describe() == "8-byte integer (no BTF type)"
    assert value.encode("0x10", "v") == (16).to_bytes(8, "little")
    with pytest.raises(CodecError, match="no BTF type"):
        value.encode({"a": 1}, "v")


@pytest.mark.parametrize(
    ("map_name", "spec", "message"),
    [
        ("settings", {"mode": "MODE_X"}, "not a member of enum mode (MODE_ECHO, MODE_DROP)"),
        ("settings", {"flags": 16}, "does not fit in a 4-bit field"),
        ("settings", {"nope": 1}, "has no field 'nope' (fields: mode, ports, flags, rest)"),
        ("flows", {"mac": [1, 2, 3, 4, 5, 6, 7]}, "7 elements given, the array holds 6"),
        ("flows", {"delta": 2**31}, "does not fit in 4 byte"),
        ("flows", {"packets": -1}, "does not fit in 8 byte"),
        ("settings", 5, "expected a dict of fields of struct settings"),
        ("flows", {"packets": True}, "expected an integer"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(map_name, spec, message):
    _, value = codecs(map_name)
    with pytest.raises(CodecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        value.encode(spec, "entries[1]")


# --- module ---


def map_host(
    runner: FakeRunner, name: str, dump: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Answer map show/btf dump/map dump for the captured map `name`."""
    info = fixture_json(f"bpftool/map_show_{name}.json")
    runner.on("bpftool", "-j", "map", "show", "pinned", fixture=f"bpftool/map_show_{name}.json")
    runner.on("bpftool", "-j", "map", "show", "id", fixture=f"bpftool/map_show_{name}.json")
    runner.on("bpftool", "-j", "btf", "dump", "id", fixture="bpftool/btf_dump_maps.json")
    text = json.dumps(dump) if dump is not None else fixture_text(f"bpftool/map_dump_{name}.json")
    runner.on("bpftool", "-j", "map", "dump", "id", str(info["id"]), result=(0, text, ""))
    runner.on("bpftool", "-j", "batch", "file", "-", fixture="bpftool/batch_ok.json")
    return info


def test_dumped_decodes_structs_and_per_cpu_values(run_module, runner):
    map_host(runner, "percpu_hits")
    result = run_module("bpf_map", {"pinned": "/run/x/maps/percpu_hits", "state": "dumped"})
    assert result["changed"] is False
    assert {"key": 1, "value": [7, 7]} in result["entries"]
    assert 0 < result["dumped_at"] <= time.monotonic()
    map_host(runner, "flows")
    result = run_module("bpf_map", {"pinned": "/run/x/maps/flows", "state": "dumped"})
    assert result["entries"][0]["key"]["dport"] == 8080
    assert result["map"]["key_type"] == "struct flow" and result["map"]["value_size"] == 24


def test_present_writes_only_entries_that_differ(run_module, runner):
    info = map_host(runner, "settings")
    entries = {
        "0": {"mode": "MODE_ECHO"},  # differs: 0 -> 1
        "1": {"mode": "MODE_DROP", "ports": {"lo": 1000, "hi": 2000}},  # as captured
    }
    result = run_module("bpf_map", {"pinned": "/run/x/maps/settings", "entries": entries})
    assert result["changed"] is True and result["updated"] == ["0"]
    (batch,) = [d for c, d in zip(runner.calls, runner.stdin, strict=True) if "batch" in c]
    assert (
        batch
        == f"map update id {info['id']} key hex 00 00 00 00 value hex "
        + " ".join(["01"] + ["00"] * 11)
        + "\n"
    )


def test_present_with_matching_entries_is_unchanged(run_module, runner):
    map_host(runner, "settings")
    entries = {"1": {"mode": 2, "ports": {"lo": 1000, "hi": 2000}, "flags": 5, "rest": 3}}
    result = run_module("bpf_map", {"pinned": "/run/x/maps/settings", "entries": entries})
    assert result["changed"] is False and result["updated"] == []
    assert not runner.ran("bpftool", "-j", "batch")


def test_check_mode_reports_without_writing(run_module, runner):
    map_host(runner, "percpu_hits")
    result = run_module(
        "bpf_map", {"pinned": "/run/x/maps/percpu_hits", "entries": {"1": 8}}, check_mode=True
    )
    assert result["changed"] is True and result["updated"] == ["1"]
    assert not runner.ran("bpftool", "-j", "batch")


def test_struct_keys_need_the_list_form(run_module, runner):
    map_host(runner, "flows", dump=[])
    result = run_module(
        "bpf_map", {"pinned": "/run/x/maps/flows", "entries": {"1": {"packets": 1}}}
    )
    assert result["failed"] is True and "list of {key:" in result["msg"]
    key = {"saddr": 1, "daddr": 2, "sport": 3, "dport": 4, "proto": 6}
    result = run_module(
        "bpf_map",
        {"pinned": "/run/x/maps/flows", "entries": [{"key": key, "value": {"packets": 1}}]},
    )
    assert result["changed"] is True and result["updated"] == [key]


def test_absent_deletes_existing_keys_only(run_module, runner):
    dump = fixture_json("bpftool/map_dump_counters.json")
    map_host(runner, "counters", dump=dump)
    result = run_module(
        "bpf_map", {"pinned": "/run/x/maps/counters", "state": "absent", "keys": [1, 42]}
    )
    assert result["changed"] is True and result["deleted"] == [1]
    (batch,) = [d for c, d in zip(runner.calls, runner.stdin, strict=True) if "batch" in c]
    assert batch.startswith("map delete id") and batch.count("\n") == 1


def test_array_entries_cannot_be_deleted(run_module, runner):
    map_host(runner, "settings")
    result = run_module(
        "bpf_map", {"pinned": "/run/x/maps/settings", "state": "absent", "keys": [0]}
    )
    assert result["failed"] is True and "cannot be deleted" in result["msg"]


def test_a_failed_batch_names_the_entry(run_module, runner):
    map_host(runner, "counters", dump=[])
    runner.on("bpftool", "-j", "batch", "file", "-", fixture="bpftool/batch_error.json")
    result = run_module("bpf_map", {"pinned": "/run/x/maps/counters", "entries": {"1": 5, "42": 6}})
    assert result["failed"] is True
    assert "entry 42 of map counters: delete failed: No such file or directory" in result["msg"]


def test_sockmaps_are_not_writable(run_module, runner):
    map_host(runner, "sock_map")
    result = run_module("bpf_map", {"pinned": "/run/x/maps/sock_map", "entries": {"0": 1}})
    assert result["failed"] is True and "sockmap" in result["msg"]


def test_name_lookup_refuses_ambiguous_names(run_module, runner):
    maps = fixture_json("bpftool/map_show_all.json")
    twice = [dict(maps[0], id=1, name="echo_config"), dict(maps[0], id=2, name="echo_config")]
    runner.on("bpftool", "-j", "map", "show", result=(0, json.dumps(twice), ""))
    result = run_module("bpf_map", {"name": "echo_config", "state": "dumped"})
    assert result["failed"] is True and "ids 1, 2" in result["msg"] and "pinned" in result["msg"]
    runner.on("bpftool", "-j", "map", "show", result=(0, json.dumps(twice[:1]), ""))
    result = run_module("bpf_map", {"name": "nothing", "state": "dumped"})
    assert result["failed"] is True and "no loaded BPF map is called 'nothing'" in result["msg"]


def test_missing_pin_is_reported(run_module, runner):
    runner.on("bpftool", "-j", "map", "show", "pinned", fixture="bpftool/map_show_missing.json")
    result = run_module("bpf_map", {"pinned": "/run/x/maps/gone", "state": "dumped"})
    assert result["failed"] is True and "bpf_prog pins maps as" in result["msg"]


def test_input_validation(run_module, runner):
    result = run_module("bpf_map", {"state": "dumped"})
    assert result["failed"] is True and "pinned" in result["msg"]
    result = run_module("bpf_map", {"pinned": "/x", "name": "y", "state": "dumped"})
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    result = run_module("bpf_map", {"pinned": "/x"})
    assert result["failed"] is True and "entries" in result["msg"]
    assert runner.calls == []
