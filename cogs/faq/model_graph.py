"""Keeping the int8 MiniLM's lookup tables int8 in memory: one exact rewrite of the ONNX graph.

The shipped model stores every weight as int8 with a float scale, dequantized in the graph as
`Cast(int8) → Mul(scale)`. onnxruntime folds those constants at load, so the 30,522 × 384 word
embedding table becomes 45 MiB of float32 (90 MiB more while folding: the cast and the product
both exist for a moment), although a question uses a few dozen of its rows.

`int8_lookups` moves the dequantization of a table that is only read by `Gather` after the
lookup: `Gather(int8 rows) → Cast → Mul(the rows' scales)`. Each value is the same float32
product of the same two numbers, so the embeddings are bit-identical (tests/cogs/test_faq_model.py),
the table stays int8 (11 MiB) and the load peak drops by about 90 MiB. The matrices that feed
`MatMul` are left to onnxruntime's folding: dequantizing them on every query would be slower.

The model is a protobuf; the few fields read and written here are those of onnx.proto3
(ModelProto.graph = 7; GraphProto.node = 1, initializer = 5; NodeProto input = 1, output = 2,
name = 3, op_type = 4, attribute = 5, domain = 7; AttributeProto name = 1, i = 3, type = 20;
TensorProto dims = 1, data_type = 2, name = 8). Every other byte is copied as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

INT8 = 3  # TensorProto.DataType
FLOAT = 1
ATTRIBUTE_INT = 2  # AttributeProto.AttributeType
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start of the field, start of its value, end of the field)."""
    pos, end = start, len(data) if end is None else end
    while pos < end:
        begin = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value_start = pos
            _, pos = _varint(data, pos)
        elif wire == LENGTH:
            size, value_start = _varint(data, pos)
            pos = value_start + size
        elif wire in (FIXED64, FIXED32):
            value_start = pos
            pos += 8 if wire == FIXED64 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, begin, value_start, pos
    if pos != end:
        raise ValueError("truncated protobuf message")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | LENGTH) + _encode_varint(len(payload)) + payload


def _int_attribute(name: str, value: int) -> bytes:
    return (
        _length_field(1, name.encode())
        + _encode_varint(3 << 3 | VARINT)
        + _encode_varint(value)
        + _encode_varint(20 << 3 | VARINT)
        + _encode_varint(ATTRIBUTE_INT)
    )


def _node(op_type: str, inputs: list[str], outputs: list[str], name: str, **attributes: int) -> bytes:
    payload = b"".join(_length_field(1, i.encode()) for i in inputs)
    payload += b"".join(_length_field(2, o.encode()) for o in outputs)
    payload += _length_field(3, name.encode()) + _length_field(4, op_type.encode())
    payload += b"".join(_length_field(5, _int_attribute(k, v)) for k, v in attributes.items())
    return _length_field(1, payload)  # as GraphProto.node


@dataclass
class _Node:
    op_type: str = ""
    name: str = ""
    domain: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ints: dict[str, int] = field(default_factory=dict)


def _parse_node(data: bytes, start: int, end: int) -> _Node:
    node = _Node()
    for number, wire, _, value, stop in _fields(data, start, end):
        text = data[value:stop].decode() if wire == LENGTH and number != 5 else ""
        if number == 1:
            node.inputs.append(text)
        elif number == 2:
            node.outputs.append(text)
        elif number == 3:
            node.name = text
        elif number == 4:
            node.op_type = text
        elif number == 7:
            node.domain = text
        elif number == 5:
            name, number_value, kind = "", None, None
            for a_number, a_wire, _, a_value, a_stop in _fields(data, value, stop):
                if a_number == 1:
                    name = data[a_value:a_stop].decode()
                elif a_number == 3 and a_wire == VARINT:
                    number_value = _varint(data, a_value)[0]
                elif a_number == 20 and a_wire == VARINT:
                    kind = _varint(data, a_value)[0]
            if kind == ATTRIBUTE_INT and number_value is not None:
                node.ints[name] = number_value
    return node


def _tensor_header(data: bytes, start: int, end: int) -> tuple[str, int, list[int]]:
    """An initializer's name, data type and dims (its data is skipped, not read)."""
    name, data_type, dims = "", 0, []
    for number, wire, _, value, stop in _fields(data, start, end):
        if number == 8:
            name = data[value:stop].decode()
        elif number == 2 and wire == VARINT:
            data_type = _varint(data, value)[0]
        elif number == 1 and wire == VARINT:
            dims.append(_varint(data, value)[0])
        elif number == 1 and wire == LENGTH:  # packed
            pos = value
            while pos < stop:
                dim, pos = _varint(data, pos)
                dims.append(dim)
    return name, data_type, dims


def int8_lookups(model: bytes) -> bytes | None:
    """The model with each int8 table read only by `Gather` dequantized after the lookup, or None
    when it has no such table (then load it as it is)."""
    graph_field = next(((v, e, b) for n, w, b, v, e in _fields(model) if n == 7 and w == LENGTH), None)
    if graph_field is None:
        return None
    g_start, g_end, g_begin = graph_field
    parts: list[tuple[int, int, _Node | None]] = []  # graph fields in order; nodes parsed
    tensors: dict[str, tuple[int, list[int]]] = {}
    for number, wire, begin, value, stop in _fields(model, g_start, g_end):
        node = _parse_node(model, value, stop) if number == 1 and wire == LENGTH else None
        if number == 5 and wire == LENGTH:
            name, data_type, dims = _tensor_header(model, value, stop)
            tensors[name] = (data_type, dims)
        parts.append((begin, stop, node))
    nodes = [node for _, _, node in parts if node is not None]
    readers: dict[str, list[_Node]] = {}
    for node in nodes:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)
    graph_outputs = _graph_output_names(model, g_start, g_end)

    dropped: set[int] = set()
    replaced: dict[int, bytes] = {}
    for cast in nodes:
        table = cast.inputs[0] if cast.op_type == "Cast" and cast.inputs else ""
        if cast.domain or cast.ints.get("to") != FLOAT or tensors.get(table, (0, []))[0] != INT8:
            continue
        rows = tensors[table][1][0] if len(tensors[table][1]) == 2 else None
        muls = readers.get(cast.outputs[0], [])
        if rows is None or len(muls) != 1 or muls[0].op_type != "Mul" or len(muls[0].inputs) != 2:
            continue
        mul = muls[0]
        scale = mul.inputs[1] if mul.inputs[0] == cast.outputs[0] else mul.inputs[0]
        scale_type, scale_dims = tensors.get(scale, (0, []))
        per_row = scale_dims == [rows, 1]
        if scale_type != FLOAT or not (per_row or all(d == 1 for d in scale_dims)):
            continue
        gathers = readers.get(mul.outputs[0], [])
        if (
            not gathers
            or {cast.outputs[0], mul.outputs[0]} & graph_outputs
            or any(g.op_type != "Gather" or g.domain or g.inputs[0] != mul.outputs[0] for g in gathers)
            or any(g.ints.get("axis", 0) != 0 or mul.outputs[0] in g.inputs[1:] for g in gathers)
        ):
            continue
        dropped |= {id(cast), id(mul)}
        for gather in gathers:
            out, ids, base = gather.outputs[0], gather.inputs[1], gather.name or gather.outputs[0]
            rows_q, rows_f, rows_scale = f"{out}/int8_rows", f"{out}/float_rows", f"{out}/row_scales"
            new = _node("Gather", [table, ids], [rows_q], f"{base}/int8_lookup", axis=0)
            if per_row:
                new += _node("Gather", [scale, ids], [rows_scale], f"{base}/scale_lookup", axis=0)
            new += _node("Cast", [rows_q], [rows_f], f"{base}/dequantize_cast", to=FLOAT)
            new += _node("Mul", [rows_f, rows_scale if per_row else scale], [out], f"{base}/dequantize_scale")
            replaced[id(gather)] = new
    if not replaced:
        return None
    view = memoryview(model)  # slices of it are not copies: the model is copied once, when joined
    pieces: list[bytes | memoryview] = []
    for begin, stop, node in parts:
        if node is None:
            pieces.append(view[begin:stop])
        elif id(node) not in dropped:
            pieces.append(replaced.get(id(node), view[begin:stop]))
    header = _encode_varint(7 << 3 | LENGTH) + _encode_varint(sum(len(p) for p in pieces))
    return b"".join([view[:g_begin], header, *pieces, view[g_end:]])


def _graph_output_names(model: bytes, start: int, end: int) -> set[str]:
    """GraphProto.output (12): ValueInfoProto, whose name is field 1."""
    names = set()
    for number, wire, _, value, stop in _fields(model, start, end):
        if number == 12 and wire == LENGTH:
            for v_number, _, _, v_value, v_stop in _fields(model, value, stop):
                if v_number == 1:
                    names.add(model[v_value:v_stop].decode())
    return names
