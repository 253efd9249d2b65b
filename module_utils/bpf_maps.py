# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and write BPF map entries with bpftool, keys and values given as numbers or dicts.

Used by bpf_map (entries of any map) and bpf_prog (map_values written after load,
before attach). Writes compare with a dump first and touch only entries that differ;
all writes of one call go to bpftool in a single `bpftool -j batch file -`.
"""

from __future__ import annotations

import json
from typing import Any

from ansible.module_utils.bpf_codec import Btf, Codec, CodecError
from ansible.module_utils.testbed_common import ModuleError, Runner, tail

PERCPU_TYPES = {"percpu_hash", "percpu_array", "lru_percpu_hash", "percpu_cgroup_storage"}
ARRAY_TYPES = {"array", "percpu_array"}
# maps whose values are file descriptors or kernel objects, not data
FD_TYPES = {
    "prog_array", "perf_event_array", "sockmap", "sockhash", "array_of_maps",
    "hash_of_maps", "xskmap", "cgroup_array", "reuseport_sockarray",
}  # fmt: skip


def hex_bytes(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def parse_dump_bytes(items: list[str]) -> bytes:
    return bytes(int(x, 16) for x in items)


def map_ref_args(ref: tuple[str, str]) -> list[str]:
    return [ref[0], str(ref[1])]


def show_map(runner: Runner, kind: str, value: str) -> dict[str, Any]:
    """`bpftool map show` of the map given by pinned path, id or name."""
    if kind == "name":
        maps = runner.json(["bpftool", "-j", "map", "show"], "listing BPF maps") or []
        found = [m for m in maps if m.get("name") in (value, value[:15])]
        if not found:
            names = ", ".join(sorted({m.get("name", "?") for m in maps})) or "none"
            raise ModuleError(f"no loaded BPF map is called '{value}' (loaded maps: {names})")
        if len(found) > 1:
            ids = ", ".join(str(m["id"]) for m in found)
            raise ModuleError(
                f"{len(found)} loaded maps are called '{value}' (ids {ids}); "
                "name one with `pinned: PATH` or `id: N` instead"
            )
        return found[0]
    hint = {
        "pinned": "Check the path: bpf_prog pins maps as <pin_dir>/maps/<map name>, "
        "and the pins are gone once the program is detached",
        "id": "List the loaded maps with `bpftool map show`",
    }[kind]
    return runner.json(
        ["bpftool", "-j", "map", "show", kind, str(value)], f"finding the map {kind} {value}", hint
    )


class BtfCache:
    """BTF objects by id, each dumped once per module run."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._by_id: dict[int, Btf] = {}

    def get(self, btf_id: int | None) -> Btf | None:
        if not btf_id:
            return None
        if btf_id not in self._by_id:
            dump = self.runner.json(
                ["bpftool", "-j", "btf", "dump", "id", str(btf_id)], f"reading BTF object {btf_id}"
            )
            self._by_id[btf_id] = Btf(dump or {})
        return self._by_id[btf_id]


class BpfMap:
    """One map: its bpftool info and the codecs of its keys and values."""

    def __init__(
        self, info: dict[str, Any], btf: Btf | None, label: str, pin_name: str | None = None
    ) -> None:
        self.info = info
        self.label = label
        self.id = int(info["id"])
        self.type = info.get("type", "unknown")
        self.percpu = self.type in PERCPU_TYPES
        names = [n for n in (pin_name, info.get("name", "")) if n]
        key_type, value_type = btf.map_types(names) if btf else (None, None)
        self.key = Codec(btf, key_type, int(info["bytes_key"]))
        self.value = Codec(btf, value_type, int(info["bytes_value"]))

    @classmethod
    def open(
        cls, runner: Runner, cache: BtfCache, kind: str, value: str, pin_name: str | None = None
    ) -> BpfMap:
        info = show_map(runner, kind, value)
        if kind == "pinned" and pin_name is None:
            pin_name = str(value).rstrip("/").rsplit("/", 1)[-1]
        label = pin_name or info.get("name") or str(value)
        return cls(info, cache.get(info.get("btf_id")), label, pin_name)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.info.get("name"),
            "type": self.type,
            "key_size": self.key.size,
            "value_size": self.value.size,
            "max_entries": self.info.get("max_entries"),
            "key_type": self.key.describe(),
            "value_type": self.value.describe(),
        }

    # --- reading ---

    def dump(self, runner: Runner) -> dict[bytes, Any]:
        """Current entries: key bytes -> value bytes (a list of bytes per CPU for per-CPU maps)."""
        entries = (
            runner.json(
                ["bpftool", "-j", "map", "dump", "id", str(self.id)], f"dumping map {self.label}"
            )
            or []
        )
        current: dict[bytes, Any] = {}
        for entry in entries:
            key = parse_dump_bytes(entry["key"])
            if "values" in entry:
                current[key] = [
                    parse_dump_bytes(v["value"]) if isinstance(v.get("value"), list) else None
                    for v in entry["values"]
                ]
            elif isinstance(entry.get("value"), list):
                current[key] = parse_dump_bytes(entry["value"])
            else:
                current[key] = None  # an entry bpftool could not read (fd-valued maps)
        return current

    def decode_entries(self, current: dict[bytes, Any]) -> list[dict[str, Any]]:
        out = []
        for key, value in current.items():
            if isinstance(value, list):
                decoded: Any = [self.value.decode(v) if v is not None else None for v in value]
            else:
                decoded = self.value.decode(value) if value is not None else None
            out.append({"key": self.key.decode(key), "value": decoded})
        return out

    # --- planning ---

    def parse_entries(self, spec: Any, where: str) -> list[tuple[Any, Any]]:
        """(key, value) pairs from a dict {key: value} or a list of {key:, value:} dicts."""
        if isinstance(spec, dict):
            if self.key.is_record:
                raise ModuleError(
                    f"{where}: map {self.label} has {self.key.describe()} keys, which cannot be "
                    "dict keys; give the entries as a list of {key: {field: ...}, value: ...}"
                )
            return list(spec.items())
        if isinstance(spec, list):
            pairs = []
            for i, item in enumerate(spec):
                if not isinstance(item, dict) or "key" not in item or "value" not in item:
                    raise ModuleError(f"{where}[{i}]: each list item needs a 'key' and a 'value'")
                pairs.append((item["key"], item["value"]))
            return pairs
        raise ModuleError(f"{where}: expected a dict of key: value or a list of {{key:, value:}}")

    def encode_key(self, spec: Any, where: str) -> bytes:
        data = self.key.encode(spec, where)
        if self.type in ARRAY_TYPES:
            index = int.from_bytes(data, "little")
            limit = int(self.info.get("max_entries", 0))
            if index >= limit:
                raise CodecError(
                    f"{where}: index {index} is out of range for array map {self.label} "
                    f"(max_entries {limit})"
                )
        return data

    def plan_updates(
        self, current: dict[bytes, Any], pairs: list[tuple[Any, Any]], where: str
    ) -> list[tuple[bytes, bytes, Any]]:
        """Entries to write: (key bytes, value bytes, key as given), only those that differ."""
        self._writable(where)
        updates: list[tuple[bytes, bytes, Any]] = []
        seen: dict[bytes, Any] = {}
        for key_spec, value_spec in pairs:
            label = f"{where}[{key_spec}]"
            try:
                key = self.encode_key(key_spec, f"{label} key")
                if key in seen:
                    raise CodecError(f"{label}: the same key as {seen[key]!r}")
                seen[key] = key_spec
                old = current.get(key)
                base = old[0] if isinstance(old, list) else old
                value = self.value.encode(value_spec, label, base)
            except CodecError as exc:
                raise ModuleError(str(exc), map=self.summary()) from exc
            same = all(v == value for v in old) if isinstance(old, list) else old == value
            if not same:
                updates.append((key, value, key_spec))
        return updates

    def plan_deletes(
        self, current: dict[bytes, Any], keys: list[Any], where: str
    ) -> list[tuple[bytes, Any]]:
        if self.type in ARRAY_TYPES:
            raise ModuleError(
                f"{where}: entries of array map {self.label} cannot be deleted "
                "(they always exist); "
                "write 0 to them with state=present instead"
            )
        deletes = []
        for key_spec in keys:
            try:
                key = self.encode_key(key_spec, f"{where}[{key_spec}]")
            except CodecError as exc:
                raise ModuleError(str(exc), map=self.summary()) from exc
            if key in current and all(k != key for k, _ in deletes):
                deletes.append((key, key_spec))
        return deletes

    def _writable(self, where: str) -> None:
        if self.type in FD_TYPES:
            raise ModuleError(
                f"{where}: map {self.label} is a {self.type}, whose values are kernel objects "
                "(sockets, programs, maps); its entries are set by the programs that use it"
            )

    # --- writing ---

    def apply(
        self,
        runner: Runner,
        updates: list[tuple[bytes, bytes, Any]],
        deletes: list[tuple[bytes, Any]],
    ) -> None:
        """Write all updates and deletes in one bpftool batch; fail naming the first bad entry."""
        lines, what = [], []
        for key, value, key_spec in updates:
            lines.append(
                f"map update id {self.id} key hex {hex_bytes(key)} value hex {hex_bytes(value)}"
            )
            what.append(("update", key_spec))
        for key, key_spec in deletes:
            lines.append(f"map delete id {self.id} key hex {hex_bytes(key)}")
            what.append(("delete", key_spec))
        if not lines:
            return
        rc, out, err = runner.run(
            ["bpftool", "-j", "batch", "file", "-"], data="\n".join(lines) + "\n"
        )
        if rc == 0:
            return
        reason, index = tail(err or out, 5), None
        try:
            results = json.loads(out)
            for i, item in enumerate(results):
                output = item.get("output") if isinstance(item, dict) else None
                if isinstance(output, dict) and "error" in output:
                    reason, index = output["error"], i
                    break
        except ValueError:
            pass
        if index is not None and index < len(what):
            verb, key_spec = what[index]
            msg = f"bpftool could not {verb} entry {key_spec} of map {self.label}: {reason}"
        else:
            msg = f"bpftool could not write map {self.label}: {reason}"
        if "too long" in reason or "E2BIG" in reason:
            msg += f" (the map holds at most {self.info.get('max_entries')} entries)"
        raise ModuleError(msg, rc=rc, stdout=out, stderr=err, map=self.summary())
