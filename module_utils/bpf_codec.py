# SPDX-License-Identifier: GPL-3.0-or-later
"""Encode map keys and values from integers and dicts, and decode them back, using BTF.

The layout comes from the BTF that the kernel keeps for the map's object
(`bpftool btf dump id N -j`): the `.maps` section holds one variable per map
whose type has `key` and `value` members pointing at the real types, and the
`.data`/`.bss` maps have their section (DATASEC) as value type.

Values are little-endian, i.e. host order on x86 and arm64. A value is:
- an integer (or a string such as "8080" / "0x1f90" that parses as one) for
  integer, enum, pointer or untyped data, range-checked against the size;
- an enum's member name for an enum;
- a dict of field -> value for a struct or union (anonymous members' fields
  may be named directly, as in C); fields left out keep the current value of
  the entry, or 0 for a new entry;
- a list for an array (shorter lists leave the tail unchanged), or a string for
  a char array (NUL padded);
- for `.data`/`.bss` maps, a dict of global variable -> value.
"""

from __future__ import annotations

from typing import Any

MODIFIERS = {"TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"}
ANON = "(anon)"


class CodecError(ValueError):
    """A key or value that does not match the map's layout."""


def parse_int(value: Any, where: str) -> int:
    """An int from an int or from a decimal/hex string; bools are refused."""
    if isinstance(value, bool):
        raise CodecError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 10)
        except ValueError:
            pass
        try:
            return int(text, 0)
        except ValueError:
            pass
    raise CodecError(f"{where}: expected an integer, got {value!r}")


def int_to_bytes(value: int, size: int, signed: bool, where: str) -> bytes:
    """Little-endian bytes of `value`; negative values are allowed for signed types only."""
    bits = size * 8
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise CodecError(f"{where}: {value} does not fit in {size} byte(s)")
    return (value & ((1 << bits) - 1)).to_bytes(size, "little")


class Btf:
    """Types of one BTF object, as printed by `bpftool btf dump id N -j`."""

    def __init__(self, dump: dict[str, Any]) -> None:
        self.types: dict[int, dict[str, Any]] = {t["id"]: t for t in dump.get("types", [])}

    def resolve(self, type_id: int) -> dict[str, Any]:
        """The type behind typedefs and qualifiers."""
        seen = 0
        t = self.types.get(type_id)
        while t is not None and t["kind"] in MODIFIERS and seen < 64:
            t = self.types.get(t["type_id"])
            seen += 1
        if t is None:
            raise CodecError(f"BTF type {type_id} is missing or void")
        return t

    def size(self, type_id: int) -> int:
        t = self.resolve(type_id)
        if t["kind"] == "ARRAY":
            return t["nr_elems"] * self.size(t["type_id"])
        if t["kind"] == "PTR":
            return 8
        return t["size"]

    def name_of(self, type_id: int) -> str:
        t = self.types.get(type_id)
        return t["name"] if t else "void"

    def map_types(self, names: list[str]) -> tuple[int | None, int | None]:
        """(key type id, value type id) of the map called one of `names`, None when unknown.

        `names` holds the names the map may go by: the name it is pinned under
        (the full name in the source) and the kernel's name (cut at 15 chars).
        """
        section = next((n[n.index(".") :] for n in names if "." in n), None)
        if section:
            for t in self.types.values():
                if t["kind"] == "DATASEC" and t["name"] == section:
                    return None, t["id"]
        for var in self._map_vars():
            if var["name"] in names or any(n and var["name"][:15] == n[:15] for n in names):
                return self._def_member(var, "key"), self._def_member(var, "value")
        return None, None

    def _map_vars(self) -> list[dict[str, Any]]:
        out = []
        for t in self.types.values():
            if t["kind"] == "DATASEC" and t["name"] == ".maps":
                out.extend(
                    self.types[v["type_id"]] for v in t["vars"] if v["type_id"] in self.types
                )
        return out

    def _def_member(self, var: dict[str, Any], member: str) -> int | None:
        definition = self.resolve(var["type_id"])
        for m in definition.get("members", []):
            if m["name"] == member:
                ptr = self.resolve(m["type_id"])
                return ptr["type_id"] if ptr["kind"] == "PTR" else None
        return None


class Codec:
    """Encoder/decoder for one key or value type; `type_id` None means untyped bytes."""

    def __init__(self, btf: Btf | None, type_id: int | None, size: int) -> None:
        self.btf = btf
        self.type_id = type_id if btf is not None else None
        self.size = size
        if self.type_id is not None and btf is not None and btf.size(self.type_id) != size:
            # BTF that does not match the map (e.g. a map-in-map) is ignored
            self.type_id = None

    @property
    def typed(self) -> bool:
        return self.type_id is not None

    @property
    def is_record(self) -> bool:
        """Whether the type is a struct or union (given as a dict of fields)."""
        if self.type_id is None or self.btf is None:
            return False
        return self.btf.resolve(self.type_id)["kind"] in ("STRUCT", "UNION")

    def describe(self) -> str:
        """The C name of the type, e.g. `__u32` or `struct echo_config`."""
        if self.type_id is None or self.btf is None:
            return f"{self.size}-byte integer (no BTF type)"
        t = self.btf.types[self.type_id]
        name = t["name"] if t["name"] != ANON else ""
        if t["kind"] in ("STRUCT", "UNION", "ENUM", "ENUM64", "DATASEC"):
            return f"{t['kind'].lower().rstrip('64')} {name}".strip()
        return name or self.btf.resolve(self.type_id)["kind"].lower()

    def encode(self, spec: Any, where: str, base: bytes | None = None) -> bytes:
        buf = bytearray(base if base is not None and len(base) == self.size else bytes(self.size))
        if self.type_id is None:
            if isinstance(spec, (dict, list)):
                raise CodecError(
                    f"{where}: the map has no BTF type here, so give a plain integer "
                    f"({self.size} bytes, little-endian), not {type(spec).__name__}"
                )
            value = parse_int(spec, where)
            buf[:] = int_to_bytes(value, self.size, value < 0, where)
            return bytes(buf)
        self._encode(self.type_id, spec, buf, 0, where)
        return bytes(buf)

    def decode(self, data: bytes) -> Any:
        if self.type_id is None:
            return int.from_bytes(data, "little")
        return self._decode(self.type_id, data, 0)

    # --- encoding ---

    def _encode(self, type_id: int, spec: Any, buf: bytearray, off: int, where: str) -> None:
        assert self.btf is not None
        t = self.btf.resolve(type_id)
        kind = t["kind"]
        if kind == "INT":
            value = parse_int(spec, where)
            buf[off : off + t["size"]] = int_to_bytes(
                value, t["size"], t["encoding"] == "SIGNED", where
            )
        elif kind in ("ENUM", "ENUM64"):
            value = self._enum_value(t, spec, where)
            signed = t.get("encoding") == "SIGNED" or value < 0
            buf[off : off + t["size"]] = int_to_bytes(value, t["size"], signed, where)
        elif kind == "PTR":
            buf[off : off + 8] = int_to_bytes(parse_int(spec, where), 8, False, where)
        elif kind == "ARRAY":
            self._encode_array(t, spec, buf, off, where)
        elif kind in ("STRUCT", "UNION"):
            self._encode_struct(t, spec, buf, off, where)
        elif kind == "DATASEC":
            self._encode_datasec(t, spec, buf, off, where)
        else:
            raise CodecError(f"{where}: values of BTF kind {kind} are not supported")

    def _enum_value(self, t: dict[str, Any], spec: Any, where: str) -> int:
        if isinstance(spec, str):
            for member in t.get("values", []):
                if member["name"] == spec:
                    return int(member["val"])
        try:
            return parse_int(spec, where)
        except CodecError:
            names = ", ".join(m["name"] for m in t.get("values", []))
            raise CodecError(
                f"{where}: {spec!r} is not a member of enum {t['name']} ({names})"
            ) from None

    def _encode_array(
        self, t: dict[str, Any], spec: Any, buf: bytearray, off: int, where: str
    ) -> None:
        assert self.btf is not None
        elem_size = self.btf.size(t["type_id"])
        elem = self.btf.resolve(t["type_id"])
        if isinstance(spec, str) and elem["kind"] == "INT" and elem_size == 1:
            raw = spec.encode()
            if len(raw) > t["nr_elems"]:
                raise CodecError(f"{where}: {spec!r} is longer than {t['nr_elems']} bytes")
            buf[off : off + t["nr_elems"]] = raw.ljust(t["nr_elems"], b"\0")
            return
        if not isinstance(spec, list):
            raise CodecError(f"{where}: expected a list of up to {t['nr_elems']} elements")
        if len(spec) > t["nr_elems"]:
            raise CodecError(
                f"{where}: {len(spec)} elements given, the array holds {t['nr_elems']}"
            )
        for i, item in enumerate(spec):
            self._encode(t["type_id"], item, buf, off + i * elem_size, f"{where}[{i}]")

    def _encode_struct(
        self, t: dict[str, Any], spec: Any, buf: bytearray, off: int, where: str
    ) -> None:
        if not isinstance(spec, dict):
            raise CodecError(
                f"{where}: expected a dict of fields of {t['kind'].lower()} {t['name']} "
                f"({', '.join(self._field_names(t))})"
            )
        for field, value in spec.items():
            path = self._find_member(t, str(field), 0)
            if path is None:
                raise CodecError(
                    f"{where}: {t['kind'].lower()} {t['name']} has no field {field!r} "
                    f"(fields: {', '.join(self._field_names(t))})"
                )
            member, bit_off = path
            sub = f"{where}.{field}"
            bits = member.get("bitfield_size", 0)
            if bits:
                self._encode_bits(member, value, buf, off * 8 + bit_off, bits, sub)
            else:
                self._encode(member["type_id"], value, buf, off + bit_off // 8, sub)

    def _encode_bits(
        self, member: dict[str, Any], value: Any, buf: bytearray, bit: int, bits: int, where: str
    ) -> None:
        assert self.btf is not None
        t = self.btf.resolve(member["type_id"])
        number = (
            self._enum_value(t, value, where)
            if t["kind"].startswith("ENUM")
            else parse_int(value, where)
        )
        signed = t.get("encoding") == "SIGNED"
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= number <= high:
            raise CodecError(f"{where}: {number} does not fit in a {bits}-bit field")
        first, last = bit // 8, (bit + bits + 7) // 8
        word = int.from_bytes(buf[first:last], "little")
        shift = bit - first * 8
        mask = ((1 << bits) - 1) << shift
        word = (word & ~mask) | ((number << shift) & mask)
        buf[first:last] = word.to_bytes(last - first, "little")

    def _encode_datasec(
        self, t: dict[str, Any], spec: Any, buf: bytearray, off: int, where: str
    ) -> None:
        assert self.btf is not None
        names = {self.btf.types[v["type_id"]]["name"]: v for v in t["vars"]}
        if not isinstance(spec, dict):
            raise CodecError(f"{where}: expected a dict of global variables ({', '.join(names)})")
        for name, value in spec.items():
            var = names.get(str(name))
            if var is None:
                raise CodecError(
                    f"{where}: section {t['name']} has no variable {name!r} ({', '.join(names)})"
                )
            var_type = self.btf.types[var["type_id"]]["type_id"]
            self._encode(var_type, value, buf, off + var["offset"], f"{where}.{name}")

    def _find_member(
        self, t: dict[str, Any], name: str, base_bits: int
    ) -> tuple[dict[str, Any], int] | None:
        """The member called `name` with its bit offset, looking into anonymous members too."""
        assert self.btf is not None
        for m in t.get("members", []):
            if m["name"] == name:
                return m, base_bits + m["bits_offset"]
        for m in t.get("members", []):
            if m["name"] in ("", ANON):
                inner = self.btf.resolve(m["type_id"])
                if inner["kind"] in ("STRUCT", "UNION"):
                    found = self._find_member(inner, name, base_bits + m["bits_offset"])
                    if found:
                        return found
        return None

    def _field_names(self, t: dict[str, Any]) -> list[str]:
        assert self.btf is not None
        names: list[str] = []
        for m in t.get("members", []):
            if m["name"] in ("", ANON):
                inner = self.btf.resolve(m["type_id"])
                names.extend(
                    self._field_names(inner) if inner["kind"] in ("STRUCT", "UNION") else []
                )
            else:
                names.append(m["name"])
        return names

    # --- decoding ---

    def _decode(self, type_id: int, data: bytes, off: int) -> Any:
        assert self.btf is not None
        t = self.btf.resolve(type_id)
        kind = t["kind"]
        if kind in ("INT", "ENUM", "ENUM64"):
            signed = t.get("encoding") == "SIGNED"
            return int.from_bytes(data[off : off + t["size"]], "little", signed=signed)
        if kind == "PTR":
            return int.from_bytes(data[off : off + 8], "little")
        if kind == "ARRAY":
            elem_size = self.btf.size(t["type_id"])
            return [
                self._decode(t["type_id"], data, off + i * elem_size) for i in range(t["nr_elems"])
            ]
        if kind in ("STRUCT", "UNION"):
            return self._decode_struct(t, data, off)
        if kind == "DATASEC":
            out = {}
            for v in t["vars"]:
                var = self.btf.types[v["type_id"]]
                out[var["name"]] = self._decode(var["type_id"], data, off + v["offset"])
            return out
        return int.from_bytes(data[off : off + self.btf.size(type_id)], "little")

    def _decode_struct(self, t: dict[str, Any], data: bytes, off: int) -> dict[str, Any]:
        assert self.btf is not None
        out: dict[str, Any] = {}
        for m in t.get("members", []):
            bits = m.get("bitfield_size", 0)
            if bits:
                bit = off * 8 + m["bits_offset"]
                first, last = bit // 8, (bit + bits + 7) // 8
                word = int.from_bytes(data[first:last], "little") >> (bit - first * 8)
                value = word & ((1 << bits) - 1)
                if self.btf.resolve(m["type_id"]).get("encoding") == "SIGNED" and value >> (
                    bits - 1
                ):
                    value -= 1 << bits
                out[m["name"]] = value
            elif m["name"] in ("", ANON):
                inner = self._decode(m["type_id"], data, off + m["bits_offset"] // 8)
                if isinstance(inner, dict):
                    out.update(inner)
            else:
                out[m["name"]] = self._decode(m["type_id"], data, off + m["bits_offset"] // 8)
        return out
