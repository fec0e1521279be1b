"""Template functions against values Azure's own expression evaluator produced.

Bicep evaluates ``.bicepparam`` files with the template engine's expression library and records the results in its
repository: ``src/Bicep.Core.Samples/Files/baselines_bicepparam/Expressions/parameters.bicepparam`` (the inputs) and
``parameters.json`` beside it (the values), in github.com/Azure/bicep. Each case is that input written in ARM's
expression syntax (what ``az bicep build`` emits for it) and the value the baseline records. This is the source of the
published ``guid()`` pair; ``uniqueString`` is checked here too.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.test_arm_template_functions import evaluate

BASELINE: list[tuple[str, Any]] = [
    ("[base64ToString(base64('abc'))]", "abc"),
    ('[base64ToJson(base64(\'{"hi": "there"}\')).hi]', "there"),
    ("[bool(true())]", True),
    ("[concat(createArray('abc'), createArray('def'))]", ["abc", "def"]),
    ("[contains('foo/bar', '/')]", True),
    ("[dataUriToString(dataUri('abc'))]", "abc"),
    ("[dateTimeAdd(dateTimeFromEpoch(1680224438), 'P1D')]", "2023-04-01T01:00:38Z"),
    ("[dateTimeToEpoch(dateTimeFromEpoch(1680224438))]", 1680224438),
    ("[empty(createArray())]", True),
    ("[endsWith('foo', 'o')]", True),
    ("[filter(createArray(1, 2), lambda('i', less(lambdaVariables('i'), 2)))]", [1]),
    ("[first(createArray(124, 25))]", 124),
    ("[flatten(createArray(createArray('abc'), createArray('def')))]", ["abc", "def"]),
    ("[format('->{0}<-', 123)]", "->123<-"),
    ("[guid('asdf')]", "228d27cc-6fdb-5934-b7ac-1efccebade04"),
    ("[indexOf('abc', 'b')]", 1),
    ("[int(123)]", 123),
    ("[intersection(createArray(1, 2, 3), createArray(2, 3, 4))]", [2, 3]),
    ("[items(createObject('foo', 'abc', 'bar', 123))]", [{"key": "bar", "value": 123}, {"key": "foo", "value": "abc"}]),
    ("[join(createArray('abc', 'def', 'ghi'), '/')]", "abc/def/ghi"),
    ("[last(createArray(1, 2))]", 2),
    ("[lastIndexOf('abcba', 'b')]", 3),
    ("[length(createArray(0, 1, 2))]", 3),
    ("[map(range(0, 3), lambda('i', format('Hi {0}!', lambdaVariables('i'))))]", ["Hi 0!", "Hi 1!", "Hi 2!"]),
    ("[max(1, 2, 3)]", 3),
    ("[min(1, 2, 3)]", 1),
    ("[padLeft(13, 5)]", "   13"),
    ("[range(0, 3)]", [0, 1, 2]),
    (
        "[reduce(createArray('a', 'b', 'c'), '', lambda('a', 'b', format('{0}-{1}', lambdaVariables('a'), "
        "lambdaVariables('b'))))]",
        "-a-b-c",
    ),
    ("[replace('abc', 'b', '/')]", "a/c"),
    ("[skip(createArray(1, 2, 3), 1)]", [2, 3]),
    (
        "[sort(createArray('c', 'd', 'a'), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]",
        ["a", "c", "d"],
    ),
    ("[split('a/b/c', '/')]", ["a", "b", "c"]),
    ("[startsWith('abc', 'a')]", True),
    ("[string('asdf')]", "asdf"),
    ("[substring('asdfasf', 3)]", "fasf"),
    ("[take(createArray(1, 2, 3), 2)]", [1, 2]),
    ("[toLower('AiKInIniIN')]", "aikininiin"),
    (
        "[toObject(createArray('a', 'b', 'c'), lambda('x', lambdaVariables('x')), lambda('x', format('Hi {0}!', "
        "lambdaVariables('x'))))]",
        {"a": "Hi a!", "b": "Hi b!", "c": "Hi c!"},
    ),
    ("[toUpper('AiKInIniIN')]", "AIKININIIN"),
    ("[trim('  adf asdf  ')]", "adf asdf"),
    ("[union(createObject('abc', 'def'), createObject('def', 'ghi'))]", {"abc": "def", "def": "ghi"}),
    ("[uniqueString('asd', 'asdf', 'asdf')]", "iizpqit7ih3cc"),
    ("[uri('https://github.com', 'Azure/bicep')]", "https://github.com/Azure/bicep"),
    ("[uriComponent('UB*8h 0+=_)9h9n')]", "UB%2A8h%200%2B%3D_%299h9n"),
    ("[uriComponentToString('%20%25%20')]", " % "),
    ("[if(true(), 'a', 'b')]", "a"),
    ("[not(true())]", False),
    ("[add(123, 456)]", 579),
    ("[sub(456, 123)]", 333),
    ("[mul(2, 3)]", 6),
    ("[div(10, 2)]", 5),
    ("[less(1, 2)]", True),
    ("[greater(1, 2)]", False),
    ("[greaterOrEquals(1, 2)]", False),
    ("[lessOrEquals(1, 2)]", True),
]


@pytest.mark.parametrize(("expression", "expected"), BASELINE, ids=[e for e, _ in BASELINE])
def test_the_value_azures_evaluator_recorded(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected
