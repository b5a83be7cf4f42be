"""Shared vocabularies, `indicators/vocab/*.yaml`: named term lists that `@FILE.NAME` references
expand to, resolved once (unknown names, cycles and bad terms are problems)."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import regex
import yaml

from monitor.definitions.terms import compile_term
from monitor.definitions.yamlfile import (
    IDENT,
    MAX_RULE_DEPTH,
    File,
    ident,
    name_list,
    read_yaml,
    sequence,
    string,
    yaml_paths,
)
from monitor.domain import digest_of, meant
from monitor.ruletree import Term

VOCAB_DIR = "vocab"  # indicators/vocab/*.yaml: named term lists, not indicators
# The shipped vocabularies, where monitor runs from its checkout (not in an installed package)
SHIPPED = Path(__file__).resolve().parents[2] / "indicators" / VOCAB_DIR
_REF = regex.compile(r"^@([A-Za-z0-9_-]+)\.([A-Za-z0-9][A-Za-z0-9_.-]*)$")


def definition_hash(data: bytes, used: set[str], vocab: Vocab) -> str:
    """An indicator's definition hash: its file's, and the vocabulary files it uses."""
    own = hashlib.sha256(data).hexdigest()
    if not used:
        return own
    return digest_of(own, *(f"{stem}:{vocab.hashes[stem]}" for stem in sorted(used)))


@dataclass
class Vocab:
    """indicators/vocab/*.yaml: each maps names to term lists; resolved once, memoized."""

    directory: Path
    check_regexes: bool = True  # compile each regex term to check it (`compile_term`)
    files: dict[str, File] = field(default_factory=dict)
    lists: dict[str, dict[str, list[yaml.Node]]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    done: dict[tuple[str, str], tuple[tuple[tuple[str, str], ...], frozenset[str]] | None] = field(
        default_factory=dict
    )

    def lookup(
        self, f: File, node: yaml.Node, ref: str
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        """The raw terms `ref` expands to and the files they come from; None after a problem."""
        target = self._target(f, node, ref)
        return self._entry(*target, ()) if target is not None else None

    def _target(self, f: File, node: yaml.Node, ref: str) -> tuple[str, str] | None:
        found = _REF.match(ref)
        if found is None:
            f.error(node, f"vocabulary reference {ref!r} must look like @FILE.NAME (@actors.china)")
            return None
        stem, name = found.groups()
        if stem in self.files and stem not in self.lists:
            return None  # the file itself has problems, reported there
        if stem not in self.lists:
            known = f"known: {name_list(sorted(self.lists))}{meant(stem, self.lists)}"
            if not self.files:  # a watch list of one's own starts with none
                known = (
                    f"there is no vocabulary file yet: write one there, a list per name"
                    f" (china: [China, 中国]), or copy monitor's own {self._shipped(stem)}"
                )
            f.error(
                node,
                f"unknown vocabulary file '{stem}' in {ref!r}: no {self.directory / stem}.yaml;"
                f" {known}",
            )
            return None
        if name not in self.lists[stem]:
            f.error(
                node,
                f"unknown name '{name}' in {ref!r}: not in {self.files[stem].path};"
                f" known: {name_list(sorted(self.lists[stem]))}{meant(name, self.lists[stem])}",
            )
            return None
        return stem, name

    def _shipped(self, stem: str) -> str:
        """Monitor's own vocabulary file `stem`, with the command that copies the shipped
        ones into this folder when monitor runs from its checkout (where they are)."""
        if not (SHIPPED / f"{stem}.yaml").is_file():  # installed without its checkout
            return f"indicators/{VOCAB_DIR}/{stem}.yaml"
        to = shlex.quote(str(self.directory))
        return (
            f"{stem}.yaml, with the others: mkdir -p {to} && cp"
            f" {shlex.quote(str(SHIPPED))}/*.yaml {to}/"
        )

    def _entry(
        self, stem: str, name: str, stack: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        key = (stem, name)
        if key in self.done:
            return self.done[key]
        f = self.files[stem]
        raws: list[tuple[str, str]] = []
        used, ok = {stem}, bool(self.lists[stem][name])  # an empty list is reported already
        for item in self.lists[stem][name]:
            raw = string(f, item, "a term") if isinstance(item, yaml.ScalarNode) else None
            if raw is None:
                if not isinstance(item, yaml.ScalarNode):
                    f.error(item, "a vocabulary list holds terms, not lists or mappings")
                ok = False
                continue
            found = self._item(f, item, raw.strip(), (*stack, key))
            if found is None:
                ok = False
                continue
            raws += found[0]
            used |= found[1]
        unique: dict[str, str] = {}  # raw term -> where it was first written
        for raw, where in raws:
            unique.setdefault(raw, where)
        result = (tuple(unique.items()), frozenset(used)) if ok else None
        self.done[key] = result
        return result

    def _item(
        self, f: File, node: yaml.Node, raw: str, stack: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
        if not raw.startswith("@"):
            try:
                compile_term(raw, check_regex=self.check_regexes)
            except ValueError as exc:
                f.error(node, str(exc))
                return None
            return ((raw, f.where(node)),), frozenset()
        target = self._target(f, node, raw)
        if target is None:
            return None
        if target in stack:
            chain = " -> ".join(f"@{s}.{n}" for s, n in (*stack[stack.index(target) :], target))
            f.error(node, f"vocabulary cycle: {chain}")
            return None
        if len(stack) >= MAX_RULE_DEPTH:
            f.error(node, f"vocabulary references nest more than {MAX_RULE_DEPTH} deep")
            return None
        return self._entry(*target, stack)


def written_terms(vocab: Vocab) -> tuple[Term, ...]:
    """Every term written in the vocabulary files, once per place, in file order; the terms of
    a list with a problem are left out (it is reported already)."""
    places = {where: raw for found in vocab.done.values() if found for raw, where in found[0]}
    return tuple(
        replace(compile_term(raw, check_regex=False), where=where)  # checked in `_item`
        for where, raw in places.items()
    )


def load_vocab(directory: Path, problems: list[str], *, check_regexes: bool = True) -> Vocab:
    """Every vocabulary file, each entry checked (unknown references, cycles, bad terms; each
    regex compiled unless `check_regexes` is False)."""
    vocab = Vocab(directory, check_regexes=check_regexes)
    if not directory.is_dir():
        return vocab
    paths = yaml_paths(directory)
    for path in paths:
        f = File(str(path), term_lists=True)
        if path.stem in vocab.files:  # `actors.yaml` and `actors.yml`: which would `@actors` be?
            f.error(
                None,
                f"another vocabulary file is named '{path.stem}': {vocab.files[path.stem].path}",
            )
            problems.extend(f.problems)
            continue
        vocab.files[path.stem] = f
        root, data = read_yaml(path, f)
        if root is None:
            continue
        if not IDENT.match(path.stem) or "." in path.stem:
            f.error(None, f"vocabulary file name '{path.stem}' must be a slug without '.'")
            continue
        if not isinstance(root, yaml.MappingNode):
            f.error(root, "a vocabulary file must map names to lists of terms")
            continue
        entries: dict[str, list[yaml.Node]] = {}
        for key_node, value_node in root.value:
            name = ident(f, key_node, "vocabulary name")
            if name is None:
                continue
            if name in entries:
                f.error(key_node, f"duplicate vocabulary name '{name}'")
                continue
            entries[name] = sequence(f, value_node, f"vocabulary '{name}'")
        vocab.lists[path.stem] = entries
        vocab.hashes[path.stem] = hashlib.sha256(data).hexdigest()
    for stem, entries in vocab.lists.items():
        for name in entries:
            vocab._entry(stem, name, ())
    for f in vocab.files.values():
        problems.extend(f.problems)
    return vocab
