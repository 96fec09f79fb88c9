"""The shape of a GraphQL document: fields, aliases, depth and fragment spreads, with fragments
expanded. Counted from the text alone (no schema, no limits here), in one pass: each fragment is
counted once, after those it spreads, so that a fragment bomb costs a step per fragment."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# A fragment bomb's expanded size is counted up to here: past it the number means nothing, and
# it would not fit a JSON integer.
CEILING = 10**9


@dataclass(frozen=True, slots=True)
class Shape:
    """A definition's size with the fragments it spreads expanded.

    Fields and aliases count every selection; depth counts the schema's own fields, not
    introspection's (below `__schema`, or in a fragment on `__Type`: GraphiQL's TypeRef nests
    eight deep)."""

    fields: int = 0
    aliases: int = 0
    depth: int = 0
    spreads: int = 0
    # The most times one response key is selected side by side in one selection set: they
    # must all merge, which validation checks pairwise.
    repeats: int = 0


_EMPTY = Shape()


def _capped(value: int) -> int:
    return min(value, CEILING)


def _shape(selection_set: SelectionSetNode, fragments: dict[str, Shape]) -> Shape:
    """Recursion follows the document's own nesting, which the parser keeps under 200 levels;
    fragments are looked up, never walked again."""
    fields = aliases = depth = spreads = repeats = 0
    keys: dict[str, int] = {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            below = (
                _shape(selection.selection_set, fragments) if selection.selection_set else _EMPTY
            )
            fields += 1 + below.fields
            aliases += (selection.alias is not None) + below.aliases
            spreads += below.spreads
            key = (selection.alias or selection.name).value
            keys[key] = keys.get(key, 0) + 1
            repeats = max(repeats, keys[key], below.repeats)
            if not selection.name.value.startswith("__"):
                depth = max(depth, 1 + below.depth)
            continue
        if isinstance(selection, InlineFragmentNode):
            below = _introspective(selection, _shape(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            # Unknown, or in a cycle and not counted yet: validation refuses either.
            below = fragments.get(selection.name.value, _EMPTY)
        else:
            continue
        fields += below.fields
        aliases += below.aliases
        depth = max(depth, below.depth)
        spreads += 1 + below.spreads
        repeats = max(repeats, below.repeats)
    return Shape(_capped(fields), _capped(aliases), depth, _capped(spreads), repeats)


def _introspective(fragment: InlineFragmentNode | FragmentDefinitionNode, shape: Shape) -> Shape:
    condition = fragment.type_condition
    if condition is None or not condition.name.value.startswith("__"):
        return shape
    return Shape(shape.fields, shape.aliases, 0, shape.spreads, shape.repeats)


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    names: list[str] = []
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)
    return names


def _fragment_shapes(fragments: dict[str, FragmentDefinitionNode]) -> dict[str, Shape]:
    """Each fragment's shape, computed once, after the fragments it spreads (so a fragment
    bomb costs one step per fragment, not per expansion)."""
    spreads = {name: _spread_names(fragment.selection_set) for name, fragment in fragments.items()}
    shapes: dict[str, Shape] = {}
    entered: set[str] = set()
    for root in fragments:
        pending = [root]
        while pending:
            name = pending[-1]
            if name not in entered:
                entered.add(name)
                pending.extend(s for s in spreads[name] if s in fragments and s not in entered)
                continue
            pending.pop()
            if name not in shapes:
                fragment = fragments[name]
                shapes[name] = _introspective(fragment, _shape(fragment.selection_set, shapes))
    return shapes


def measure_shapes(
    document: DocumentNode,
) -> tuple[list[tuple[str | None, Shape]], dict[str, Shape]]:
    """Each operation's shape, by name (None for an anonymous one), and each fragment's."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    shapes = _fragment_shapes(fragments)
    operations = [
        (d.name.value if d.name else None, _shape(d.selection_set, shapes))
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    return operations, shapes
