"""definitions: the YAML files are composed by libyaml for speed, and every line a problem names
must still be the line the Python parser (the reference whose messages `file:line` advice is
written for) gives. This holds the two to the same nodes on every file monitor ships and reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.definitions.yamlfile import File, read_yaml

ROOT = Path(__file__).parent.parent
VALID = ROOT / "tests" / "data" / "definitions" / "valid"
SHIPPED = sorted(
    [*ROOT.glob("indicators/**/*.yaml"), ROOT / "config" / "feeds.yaml", *VALID.rglob("*.yaml")]
)


def _tree(node: yaml.Node | None) -> object:
    if node is None:
        return None
    where = (node.tag, node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return (*where, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (*where, [_tree(item) for item in node.value])
    return (*where, [(_tree(k), _tree(v)) for k, v in node.value])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_read_nodes_are_the_python_parsers(path: Path) -> None:
    f = File(str(path))
    root, data = read_yaml(path, f)
    assert f.problems == []
    reference = yaml.compose(data.decode("utf-8-sig"), Loader=yaml.SafeLoader)
    assert _tree(root) == _tree(reference)


def test_a_file_libyaml_refuses_gets_the_python_parsers_line_and_advice(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: x\ntitle: a\n\tquestion: q\n", encoding="utf-8")
    f = File(str(path))
    root, _ = read_yaml(path, f)
    assert root is None
    assert f.problems == [
        f"{path}:3: invalid YAML: found character '\\t' that cannot start any token; a tab at"
        " column 1: YAML indents with spaces only; replace the tab with spaces"
    ]
