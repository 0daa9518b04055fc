"""Reading configuration files: one safe YAML reader for every configuration the kit reads
(study schemas, company configurations, codeframes).

``yaml.SafeLoader`` already refuses Python tags; :func:`read_yaml` adds what it does not do:
a named error for non-UTF-8 bytes and a bound on alias expansion ("billion laughs", recursive
aliases), checked on the node graph before any value is built.
"""

from __future__ import annotations

from pathlib import Path

from .checks import CXDataError

#: Most values (scalars, list items, mapping entries) a configuration may expand to through
#: YAML aliases; a study or company configuration or a codeframe holds a few hundred at most.
MAX_YAML_VALUES = 10_000


def read_yaml(path: str | Path):
    """Parse a YAML configuration safely: UTF-8 text (named error otherwise), no Python tags
    (``yaml.SafeLoader``), and aliases expanding to at most :data:`MAX_YAML_VALUES` values.

    Aliases are allowed (``&scale [1, 5]`` reused by ``*scale`` is ordinary YAML), but the size
    of the document *after* expanding every alias is counted on the node graph before anything
    is built, so a "billion laughs" file (nested aliases, a few hundred bytes expanding to
    10^9 values) is refused at once instead of exhausting memory.
    """
    import yaml
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        column = err.start - raw.rfind(b"\n", 0, err.start)
        raise CXDataError(f"{path.name} is not UTF-8 text: byte {raw[err.start]:#04x} at line "
                          f"{line}, column {column} cannot be "
                          "decoded. Save the configuration as UTF-8 (in most editors: Save As, "
                          "encoding UTF-8).") from None

    class _Loader(yaml.SafeLoader):
        def construct_document(self, node):
            _check_expansion(node, path.name)
            return super().construct_document(node)

    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise CXDataError(f"{path.name} is not valid YAML: {err}") from None


def _check_expansion(root, name: str) -> None:
    """Count the values of the YAML node graph as if every alias were copied out (memoised per
    node, so the count itself is cheap); refuse more than :data:`MAX_YAML_VALUES` or a cycle."""
    import yaml
    size: dict[int, int] = {}
    active: set[int] = set()

    def count(node) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in active:
            raise CXDataError(f"{name}: an alias refers to the value that contains it (a "
                              "recursive YAML structure). Write the values out instead.")
        active.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(count(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(count(k) + count(v) for k, v in node.value)
        else:
            total = 1
        active.discard(key)
        size[key] = total
        if total > MAX_YAML_VALUES:
            raise CXDataError(f"{name}: its YAML aliases (*name) expand to more than "
                              f"{MAX_YAML_VALUES:,} values (a 'billion laughs' structure); a "
                              "configuration needs a few hundred. Write the values out "
                              "or reuse an anchor only for small values such as a scale.")
        return total

    count(root)
