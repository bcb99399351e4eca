"""The override grammar (``heyhi.config.grammar``), rule by rule: one table per rule.

Each row is a token and the ``Override`` it parses into (or HeyHi's own one-line error and the
token the error carries). The last tables check what consumes the objects: composition (an error
at an override carries the ``Override``), sweeps (an ``Axis`` per sweep value), flag files, and
that the module stays a cheap leaf to import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from heyhi.config import grammar as G
from heyhi.config.grammar import (
    Choice,
    Distribution,
    GridList,
    Override,
    OverrideKind as K,
    Range,
    SweepKind as SK,
    looks_like_sweep,
    parse,
    split_items,
)
from heyhi.errors import ConfigError, SweepError

from conftest import REPO

SL = "conf/c02_sup_train/sl.prototxt"


def ov(token: str, key: str, kind: K, value: str, sweep=None, index: int = 0) -> Override:
    return Override(key, kind, value, token, sweep, index)


def _rows(table):
    return [pytest.param(tok, exp, id=tok or "<empty>") for tok, exp in table]


# ---- keys ------------------------------------------------------------------------------------------

KEYS = [
    ("a=1", ov("a=1", "a", K.SCALAR, "1")),
    ("a.b.c=1", ov("a.b.c=1", "a.b.c", K.SCALAR, "1")),
    ("--lr=0.1", ov("--lr=0.1", "lr", K.SCALAR, "0.1")),
    ("-lr=0.1", ov("-lr=0.1", "lr", K.SCALAR, "0.1")),
    ("tags.0=x", ov("tags.0=x", "tags.0", K.SCALAR, "x")),
    ("tags.-1=x", ov("tags.-1=x", "tags.-1", K.SCALAR, "x")),
    ("--tags.-1=x", ov("--tags.-1=x", "tags.-1", K.SCALAR, "x")),
    ("env.HOME=/root", ov("env.HOME=/root", "env.HOME", K.SCALAR, "/root")),
    ("lr_schedule.0.step=5", ov("lr_schedule.0.step=5", "lr_schedule.0.step", K.SCALAR, "5")),
    ("a=b=c", ov("a=b=c", "a", K.SCALAR, "b=c")),
    ("a==b", ov("a==b", "a", K.SCALAR, "=b")),
    ("a b=1", ov("a b=1", "a b", K.SCALAR, "1")),
]


@pytest.mark.parametrize("token, expect", _rows(KEYS))
def test_keys(token, expect):
    assert parse(token) == expect


# ---- scalar values -----------------------------------------------------------------------------------

SCALARS = [
    ("name=", ov("name=", "name", K.SCALAR, "")),
    ("name= spaced ", ov("name= spaced ", "name", K.SCALAR, " spaced ")),
    ("name=café", ov("name=café", "name", K.SCALAR, "café")),
    ("lr=1e-3", ov("lr=1e-3", "lr", K.SCALAR, "1e-3")),
    ("n=-1", ov("n=-1", "n", K.SCALAR, "-1")),
    ("flag=true", ov("flag=true", "flag", K.SCALAR, "true")),
    ("name=foo(bar)", ov("name=foo(bar)", "name", K.SCALAR, "foo(bar)")),  # not a sweep function
    ("name=range", ov("name=range", "name", K.SCALAR, "range")),
    ("name=range(3", ov("name=range(3", "name", K.SCALAR, "range(3")),
    ("name=range (3)", ov("name=range (3)", "name", K.SCALAR, "range (3)")),
    ("name=xrange(3)", ov("name=xrange(3)", "name", K.SCALAR, "xrange(3)")),
    ("s=[x", ov("s=[x", "s", K.SCALAR, "[x")),
    ("s=x]", ov("s=x]", "s", K.SCALAR, "x]")),
    ("s='quoted'", ov("s='quoted'", "s", K.SCALAR, "'quoted'")),  # a scalar keeps its quotes
    ('s="a,b"', ov('s="a,b"', "s", K.SCALAR, '"a,b"')),
]


@pytest.mark.parametrize("token, expect", _rows(SCALARS))
def test_scalar_values(token, expect):
    assert parse(token) == expect
    assert not looks_like_sweep(token)


# ---- NULL --------------------------------------------------------------------------------------------

NULLS = [
    ("seed=NULL", ov("seed=NULL", "seed", K.NULL, "NULL")),
    ("--seed=NULL", ov("--seed=NULL", "seed", K.NULL, "NULL")),
    ("launcher=NULL", ov("launcher=NULL", "launcher", K.NULL, "NULL")),
    ("tags.0=NULL", ov("tags.0=NULL", "tags.0", K.NULL, "NULL")),
    ("env.HOME=NULL", ov("env.HOME=NULL", "env.HOME", K.NULL, "NULL")),
    ("seed=null", ov("seed=null", "seed", K.SCALAR, "null")),  # only NULL, as written
    ("seed=NULL ", ov("seed=NULL ", "seed", K.SCALAR, "NULL ")),
    ("seed=[NULL]", ov("seed=[NULL]", "seed", K.SCALAR, "[NULL]", GridList(["NULL"]))),
]


@pytest.mark.parametrize("token, expect", _rows(NULLS))
def test_null(token, expect):
    assert parse(token) == expect


# ---- SELECT (a oneof's empty message) -------------------------------------------------------------------

SELECTS = [
    ("launcher.local=SELECT", ov("launcher.local=SELECT", "launcher.local", K.SELECT, "SELECT")),
    ("--launcher.slurm=SELECT", ov("--launcher.slurm=SELECT", "launcher.slurm", K.SELECT, "SELECT")),
    ("lr_schedule.-1=SELECT", ov("lr_schedule.-1=SELECT", "lr_schedule.-1", K.SELECT, "SELECT")),
    ("x=select", ov("x=select", "x", K.SCALAR, "select")),
    ("x=SELECTED", ov("x=SELECTED", "x", K.SCALAR, "SELECTED")),
]


@pytest.mark.parametrize("token, expect", _rows(SELECTS))
def test_select(token, expect):
    assert parse(token) == expect


# ---- includes I<mount>=name ------------------------------------------------------------------------------

INCLUDES = [
    ("Ilauncher=slurm_8gpus", ov("Ilauncher=slurm_8gpus", "launcher", K.INCLUDE, "slurm_8gpus")),
    ("I.launcher=local", ov("I.launcher=local", "launcher", K.INCLUDE, "local")),
    ("I=fast", ov("I=fast", "", K.INCLUDE, "fast")),
    ("--Idata=small", ov("--Idata=small", "data", K.INCLUDE, "small")),
    ("Ia.b=x", ov("Ia.b=x", "a.b", K.INCLUDE, "x")),
    ("I..a=x", ov("I..a=x", "a", K.INCLUDE, "x")),
    ("Idata=data/small.yaml", ov("Idata=data/small.yaml", "data", K.INCLUDE, "data/small.yaml")),
    ("I=NULL", ov("I=NULL", "", K.INCLUDE, "NULL")),  # an include first: NULL is its name
    ("Iters=3", ov("Iters=3", "ters", K.INCLUDE, "3")),  # any key starting with I mounts an include
    ("Ilauncher=[local,slurm_8gpus]", ov("Ilauncher=[local,slurm_8gpus]", "launcher", K.INCLUDE,
                                         "[local,slurm_8gpus]", GridList(["local", "slurm_8gpus"]))),
]


@pytest.mark.parametrize("token, expect", _rows(INCLUDES))
def test_includes(token, expect):
    assert parse(token) == expect


# ---- lists --------------------------------------------------------------------------------------------

LISTS = [
    ("lr=[0.1,0.2]", GridList(["0.1", "0.2"])),
    ("lr=[0.1, 0.2, 0.3]", GridList(["0.1", "0.2", "0.3"])),
    ("lr=[ 1 , 2 ]", GridList(["1", "2"])),
    ("lr= [1,2] ", GridList(["1", "2"])),  # the value is stripped before it is read
    ("lr=[1]", GridList(["1"])),
    ("lr=[]", GridList([])),
    ("lr=[ ]", GridList([])),
    ("name=[a b,c]", GridList(["a b", "c"])),
    ("x=[NULL,1]", GridList(["NULL", "1"])),
    ("x=[f(a,b),c]", GridList(["f(a,b)", "c"])),  # commas inside parentheses stay
]


@pytest.mark.parametrize("token, sweep", LISTS, ids=[t for t, _ in LISTS])
def test_lists(token, sweep):
    o = parse(token)
    assert o.kind == K.SCALAR and o.sweep == sweep and o.sweep.kind == SK.LIST
    assert o.value == token.split("=", 1)[1]  # the value stays as written: a list may be a field's value
    assert looks_like_sweep(token)


NESTED = [
    ("tags=[[a],[b,c]]", GridList(["[a]", "[b,c]"])),
    ("m=[[1,2],[3]]", GridList(["[1,2]", "[3]"])),
    ("m=[[1,[2,3]],[]]", GridList(["[1,[2,3]]", "[]"])),
    ('m=[[a,"b,c"],d]', GridList(['[a,"b,c"]', "d"])),  # quotes inside brackets are kept for the inner list
    ("tags=choice([a],[b,c])", Choice(["[a]", "[b,c]"])),
    ("tags=choice([],[a])", Choice(["[]", "[a]"])),
]


@pytest.mark.parametrize("token, sweep", NESTED, ids=[t for t, _ in NESTED])
def test_nested_lists(token, sweep):
    assert parse(token).sweep == sweep


# ---- quoting -------------------------------------------------------------------------------------------

QUOTING = [
    ('x=["a,b",c]', ("a,b", "c")),
    ("x=['a,b',c]", ("a,b", "c")),
    ('x=[" a ",b]', (" a ", "b")),  # a quoted item keeps its spaces
    ('x=[""]', ("",)),  # and may be empty
    ('x=["",a]', ("", "a")),
    ('x=["a\\"b"]', ('a"b',)),  # a backslash escapes at depth 0
    ('x=["a\\\\b"]', ("a\\b",)),
    ('x=["[x]",y]', ("[x]", "y")),
    ("x=[\"it's\"]", ("it's",)),
    ("x=['say \"hi\"']", ('say "hi"',)),
    ('x=choice("a,b", c)', ("a,b", "c")),
    ('x=choice("(",")")', ("(", ")")),
    ('x=["a", "b"]', ("a", ' b')),  # a quoted item is kept whole: a space before its quote stays
]


@pytest.mark.parametrize("token, items", QUOTING, ids=[t for t, _ in QUOTING])
def test_quoting(token, items):
    assert parse(token).sweep.items == items


SPLIT = [
    ("a, [b,c],\"d,e\"", ["a", "[b,c]", "d,e"]),
    ("", []),
    ("   ", []),
    ("a", ["a"]),
    ("(a,b),c", ["(a,b)", "c"]),
    ("'x' ,y", ["x ", "y"]),  # text after a closing quote joins the item
]


@pytest.mark.parametrize("text, items", SPLIT, ids=[t or "<empty>" for t, _ in SPLIT])
def test_split_items(text, items):
    assert split_items(text, "here") == items


# ---- ranges -------------------------------------------------------------------------------------------

RANGES = [
    ("seed=range(3)", Range(0, 3, 1), ("0", "1", "2")),
    ("seed=range(1,4)", Range(1, 4, 1), ("1", "2", "3")),
    ("seed=range(0, 10, 4)", Range(0, 10, 4), ("0", "4", "8")),
    ("seed=range(5,0,-2)", Range(5, 0, -2), ("5", "3", "1")),
    ("seed=range( 2 , 4 )", Range(2, 4, 1), ("2", "3")),
    ("seed=range(-2,0)", Range(-2, 0, 1), ("-2", "-1")),
    ("Idata=range(1,2)", Range(1, 2, 1), ("1",)),
]


@pytest.mark.parametrize("token, sweep, items", RANGES, ids=[t for t, _, _ in RANGES])
def test_ranges(token, sweep, items):
    o = parse(token)
    assert o.sweep == sweep and o.sweep.items == items and o.sweep.kind == SK.RANGE
    assert looks_like_sweep(token)


# ---- choice -------------------------------------------------------------------------------------------

CHOICES = [
    ("opt=choice(SGD,MOMENTUM)", Choice(["SGD", "MOMENTUM"])),
    ("opt=choice(SGD)", Choice(["SGD"])),
    ("lr=choice( 0.1 , 0.01 )", Choice(["0.1", "0.01"])),
    ("name=choice(a b, c)", Choice(["a b", "c"])),
    ("x=choice(NULL,1)", Choice(["NULL", "1"])),
]


@pytest.mark.parametrize("token, sweep", CHOICES, ids=[t for t, _ in CHOICES])
def test_choice(token, sweep):
    o = parse(token)
    assert o.sweep == sweep and o.sweep.kind == SK.CHOICE and looks_like_sweep(token)


def test_sweep_values_differ_by_type():
    assert GridList(["a"]) != Choice(["a"]) and Range(0, 1) != GridList(["0"])
    assert hash(GridList(["a"])) == hash(GridList(("a",)))
    with pytest.raises(AttributeError):
        GridList(["a"]).items = ()


# ---- distributions -------------------------------------------------------------------------------------

DISTRIBUTIONS = [
    ("lr=uniform(0,1)", Distribution(SK.UNIFORM, 0.0, 1.0), float),
    ("lr=uniform(-1.5, 2)", Distribution(SK.UNIFORM, -1.5, 2.0), float),
    ("lr=loguniform(1e-4, 1e-1)", Distribution(SK.LOGUNIFORM, 1e-4, 0.1), float),
    ("n=randint(1,8)", Distribution(SK.RANDINT, 1, 8), int),
    ("n=randint(3,3)", Distribution(SK.RANDINT, 3, 3), int),  # both ends included
    ("n=randint(-2, 2)", Distribution(SK.RANDINT, -2, 2), int),
]


@pytest.mark.parametrize("token, sweep, number", DISTRIBUTIONS, ids=[t for t, _, _ in DISTRIBUTIONS])
def test_distributions(token, sweep, number):
    o = parse(token)
    assert o.sweep == sweep and type(o.sweep.low) is number and type(o.sweep.high) is number
    assert looks_like_sweep(token)


# ---- flag files @file ------------------------------------------------------------------------------------

FLAG_TOKENS = [
    ("@p.yaml", True),
    ("@params.csv", True),
    ("@", True),
    ("--@p.yaml", False),  # a flag file starts with @
    ("a=@p.yaml", False),
]


@pytest.mark.parametrize("token, is_sweep", FLAG_TOKENS, ids=[t for t, _ in FLAG_TOKENS])
def test_flag_file_tokens(token, is_sweep):
    assert looks_like_sweep(token) is is_sweep
    if "=" not in token:  # not an override: the flag file reader takes it (heyhi.config.flagfiles)
        with pytest.raises(ConfigError) as e:
            parse(token)
        assert str(e.value) == f"override {token!r}: expected key=value" and e.value.token == token


FLAG_FILES = [
    ("lr: 0.1\nseed: [0, 1]\n", [("lr=0.1", None), ("seed=[0,1]", GridList(["0", "1"]))]),
    ("data: {noise: 0.5}\nlauncher: null\n", [("data.noise=0.5", None), ("launcher=NULL", None)]),
    ("lr: loguniform(1e-4, 1e-1)\n", [("lr=loguniform(1e-4, 1e-1)", Distribution(SK.LOGUNIFORM, 1e-4, 0.1))]),
    ('tags: ["a,b", c]\n', [('tags=["a,b",c]', GridList(["a,b", "c"]))]),
    ("Ilauncher: slurm_8gpus\n", [("Ilauncher=slurm_8gpus", None)]),
]


@pytest.mark.parametrize("text, expect", FLAG_FILES, ids=["mapping", "nested-null", "distribution", "quoted", "include"])
def test_flag_file_entries(tmp_path, text, expect):
    """A mapping flag file's entries are tokens of the same grammar (errors name file:line)."""
    from heyhi.config import flagfiles

    p = tmp_path / "p.yaml"
    p.write_text(text)
    got = [parse(e.token, where=e.where) for e in flagfiles.load(p).entries]
    assert [(o.token, o.sweep) for o in got] == expect


# ---- errors: HeyHi's words, and the token they carry -----------------------------------------------------------

ERRORS = [
    ("lr", ConfigError, "override 'lr': expected key=value"),
    ("--lr", ConfigError, "override '--lr': expected key=value"),
    ("", ConfigError, "override '': expected key=value"),
    ("=1", ConfigError, "override '=1': empty key"),
    ("--=1", ConfigError, "override '--=1': empty key"),
    ("tag=\udcff", ConfigError, "override 'tag=\\xff': not UTF-8 text"),
    ("x=[a,,b]", SweepError, "override 'x=[a,,b]': an empty element in a list"),
    ("x=[a,]", SweepError, "override 'x=[a,]': an empty element in a list"),
    ("x=[,]", SweepError, "override 'x=[,]': an empty element in a list"),
    ("x=[a,(b]", SweepError, "override 'x=[a,(b]': unbalanced brackets"),
    ("x=[a,b)]", SweepError, "override 'x=[a,b)]': unbalanced ')'"),
    ('x=["a]', SweepError, "override 'x=[\"a]': unbalanced quote"),
    ("x=choice()", SweepError, "override 'x=choice()': choice() needs at least one value"),
    ("x=choice( )", SweepError, "override 'x=choice( )': choice() needs at least one value"),
    ("x=choice(a,,b)", SweepError, "override 'x=choice(a,,b)': an empty element in a list"),
    ("x=range(a)", SweepError, "override 'x=range(a)': range() takes integers (for other values use a list [..] or uniform())"),
    ("x=range(0.5)", SweepError, "override 'x=range(0.5)': range() takes integers (for other values use a list [..] or uniform())"),
    ("x=range()", SweepError, "override 'x=range()': range(start, stop[, step]) with a step that is not 0"),
    ("x=range(1,2,0)", SweepError, "override 'x=range(1,2,0)': range(start, stop[, step]) with a step that is not 0"),
    ("x=range(1,2,3,4)", SweepError, "override 'x=range(1,2,3,4)': range(start, stop[, step]) with a step that is not 0"),
    ("x=range(5,0)", SweepError, "override 'x=range(5,0)': range(5, 0) is empty"),
    ("x=range(0)", SweepError, "override 'x=range(0)': range(0,) is empty"),
    ("x=uniform(1)", SweepError, "override 'x=uniform(1)': uniform(low, high) takes two numbers, got 1"),
    ("x=uniform()", SweepError, "override 'x=uniform()': uniform(low, high) takes two numbers, got 0"),
    ("x=uniform(a,b)", SweepError, "override 'x=uniform(a,b)': uniform() takes two numbers, got a, b"),
    ("x=randint(1.5,2)", SweepError, "override 'x=randint(1.5,2)': randint() takes two integers, got 1.5, 2"),
    ("x=uniform(0,inf)", SweepError, "override 'x=uniform(0,inf)': uniform() bounds must be finite"),
    ("x=uniform(nan,1)", SweepError, "override 'x=uniform(nan,1)': uniform() bounds must be finite"),
    ("x=randint(3,1)", SweepError, "override 'x=randint(3,1)': randint(low, high) needs low <= high"),
    ("x=uniform(1,1)", SweepError, "override 'x=uniform(1,1)': uniform(low, high) needs low < high"),
    ("x=loguniform(2,1)", SweepError, "override 'x=loguniform(2,1)': loguniform(low, high) needs low < high"),
    ("x=loguniform(0,1)", SweepError, "override 'x=loguniform(0,1)': loguniform(low, high) needs 0 < low"),
    ("--x=[a,,b]", SweepError, "override '--x=[a,,b]': an empty element in a list"),
]


@pytest.mark.parametrize("token, error, message", ERRORS, ids=[t or "<empty>" for t, _, _ in ERRORS])
def test_errors(token, error, message):
    with pytest.raises(error) as e:
        parse(token)
    assert type(e.value) is error and str(e.value) == message and "\n" not in message
    assert e.value.token == token


@pytest.mark.parametrize("token, message", [
    pytest.param("lr", "p.yaml:3: expected key=value", id="no-equals"),
    pytest.param("lr=[a,,b]", "p.yaml:3: an empty element in a list", id="empty-item"),
    pytest.param("lr=uniform(1,0)", "p.yaml:3: uniform(low, high) needs low < high", id="bounds"),
])
def test_errors_name_where(token, message):
    """A flag file's entry is named by file:line, not by its token."""
    with pytest.raises((ConfigError, SweepError)) as e:
        parse(token, where="p.yaml:3")
    assert str(e.value) == message and e.value.token == token


@pytest.mark.parametrize("token", ["x=[a,,b]", "x=choice()", "x=range(a)", "x=uniform(1,0)", 'x=["a]'])
def test_composition_reads_values_as_written(token):
    """``sweep=False`` (composition: a sweep point's values are plain): no sweep part, no sweep error."""
    from heyhi.config.overrides import parse_override, parse_overrides

    o = parse(token, 3, sweep=False)
    assert o == ov(token, "x", K.SCALAR, token[2:], None, 3)
    assert parse_override(token, 3) == o and parse_overrides(["a=1", token])[1] == o.at(1)


# ---- the Override object -----------------------------------------------------------------------------------

def test_override_fields_and_names():
    o = parse("--Ilauncher=slurm_8gpus", 4)
    assert (o.key, o.kind, o.value, o.token, o.sweep, o.index) == ("launcher", "include", "slurm_8gpus",
                                                                  "--Ilauncher=slurm_8gpus", None, 4)
    assert o.kind is K.INCLUDE and isinstance(o.kind, str) and str(o.kind) == "include"
    assert o.source == o.token and o.raw == "Ilauncher=slurm_8gpus" and o.raw_key == "Ilauncher"
    assert o.where == "override '--Ilauncher=slurm_8gpus'"
    assert o.at(0) == parse("--Ilauncher=slurm_8gpus") and o.at(0).index == 0
    with pytest.raises(AttributeError):
        o.key = "x"


@pytest.mark.parametrize("tokens, expect", [
    pytest.param(["a=1", "b=2", "a=3"], [("a=3", 0), ("b=2", 1)], id="last-wins-at-first-position"),
    pytest.param(["--a=1", "a=2"], [("a=2", 0)], id="dashes-do-not-matter"),
    pytest.param(["Ia=x", "a=1"], [("Ia=x", 0), ("a=1", 1)], id="include-and-field-differ"),
    pytest.param(["a.0=x", "a.-1=y", "a.-1=z"], [("a.0=x", 0), ("a.-1=z", 1)], id="appends-collapse"),
])
def test_effective(tokens, expect):
    from heyhi.config.overrides import effective, parse_overrides

    assert [(o.token, o.index) for o in effective(parse_overrides(tokens))] == expect


# ---- what consumes it: composition carries the Override in its errors ------------------------------------------

COMPOSE_ERRORS = [
    ("batch_sizee=10", "unknown key 'batch_sizee'; did you mean: batch_size"),
    ("--batch_sizee=10", "unknown key 'batch_sizee'; did you mean: batch_size"),
    ("optimizer=sgd", "'optimizer' expects enum Optimizer: 'sgd' is not one of SGD, MOMENTUM"),
    ("batch_size=2.5", "'batch_size' expects int32 (an integer), got '2.5'"),
    ("lr=fast", "'lr' expects float (a number), got 'fast'"),
    ("data=3", "'data' is a message (DataCfg): set its fields, or use NULL/SELECT"),
    ("tags.5=x", "cannot access element 5 of list 'tags' that has 1 elements; use -1 to append"),
    ("seed=SELECT", "SELECT only applies to a message in a oneof; 'seed' is int32"),
    ("lr.x=1", "'lr' is float: it has no field 'x'"),
    ("it's=1", "unknown key \"it's\""),  # quoted with "..." in its where: still carried
]


@pytest.mark.parametrize("token, message", COMPOSE_ERRORS, ids=[t for t, _ in COMPOSE_ERRORS])
def test_composition_errors_carry_the_override(token, message):
    from heyhi.config.compose import Composer
    from heyhi.config.project import Project

    with pytest.raises(ConfigError) as e:
        Composer(Project(REPO)).compose(REPO / SL, ["num_steps=3", token])
    assert e.value.message.startswith(message), e.value.message
    assert e.value.where == f"override {token!r}"
    assert e.value.override == parse(token, 1, sweep=False) and e.value.token == token


def test_include_errors_carry_the_override():
    from heyhi.config.compose import Composer
    from heyhi.config.project import Project

    token = "Ilauncher=slurm_8gpu"
    with pytest.raises(ConfigError) as e:
        Composer(Project(REPO)).compose(REPO / SL, [token])
    assert e.value.message.startswith("include 'slurm_8gpu' not found for mount 'launcher'; known includes: ")
    assert e.value.override == parse(token, sweep=False)


def test_errors_not_at_an_override_carry_none(tmp_path):
    e = ConfigError("bad", "f.prototxt:1:1")
    assert e.override is None and e.token is None and str(e) == "f.prototxt:1:1: bad"


# ---- what consumes it: sweeps build an Axis from the sweep value --------------------------------------------------

AXES = [
    ("lr=[0.1,0.2]", dict(key="lr", kind="list", values=["0.1", "0.2"], raw="lr=[0.1,0.2]", sampled=False)),
    ("seed=range(3)", dict(key="seed", kind="range", values=["0", "1", "2"], raw="", sampled=False)),
    ("opt=choice(SGD,MOMENTUM)", dict(key="opt", kind="choice", values=["SGD", "MOMENTUM"], sampled=False)),
    ("lr=loguniform(1e-4,1)", dict(key="lr", kind="loguniform", values=[], low=1e-4, high=1.0, sampled=True)),
    ("n=randint(1,8)", dict(key="n", kind="randint", low=1, high=8, sampled=True)),
    ("Ilauncher=[local,slurm_8gpus]", dict(key="Ilauncher", kind="list", values=["local", "slurm_8gpus"])),
]


@pytest.mark.parametrize("token, fields", AXES, ids=[t for t, _ in AXES])
def test_sweep_axes_from_overrides(token, fields):
    from heyhi.sweep.spec import Axis, parse_value

    o = parse(token)
    ax = Axis.of(o.raw_key, o.sweep, o.where, o.raw)
    assert {k: getattr(ax, k) for k in fields} == fields and type(ax.kind) is str
    assert ax == parse_value(o.raw_key, o.value, o.where)
    assert Axis.from_json(ax.to_json()) == Axis.from_json(ax.to_json())


# ---- the module: one grammar, a cheap leaf ----------------------------------------------------------------------

def test_one_grammar_everywhere():
    import heyhi.cli.run as cli_run
    import heyhi.config.overrides as overrides
    import heyhi.sweep as sweep
    import heyhi.sweep.spec as spec

    assert cli_run.looks_like_sweep is spec.looks_like_sweep is sweep.looks_like_sweep is G.looks_like_sweep
    assert overrides.Override is G.Override and overrides.split_items is G.split_items
    assert sweep.SweepError is SweepError and spec.DISTRIBUTIONS is G.DISTRIBUTIONS
    assert not hasattr(cli_run, "_has_sweep")


def test_import_is_a_cheap_leaf():
    code = ("import sys; import heyhi.config.grammar; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'asyncio', 'textual', 'yaml', 'heyhi'))))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(REPO))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["heyhi", "heyhi.config", "heyhi.config.grammar", "heyhi.errors", "heyhi.exports"]


@pytest.mark.parametrize("token", ["batch_sizee=10", "--lr=fast", "it's=1", "batch_size=a\\b"])
def test_the_daemon_finds_the_failing_override_by_the_error(token):
    """``DaemonCore._override_of`` reads the ``Override`` an error carries (no matching of ``where``)."""
    from heyhi.config.compose import Composer
    from heyhi.config.project import Project
    from heyhi_daemon.core import DaemonCore

    overrides = ["num_steps=3", token, "seed=1"]
    with pytest.raises(ConfigError) as e:
        Composer(Project(REPO)).compose(REPO / SL, overrides)
    assert DaemonCore._override_of(e.value, overrides, [0, 1, 2]) == 1
    assert DaemonCore._override_of(e.value, overrides, [0, 2]) is None
    assert DaemonCore._override_of(ConfigError("bad", f"override {token!r}"), overrides, [0, 1, 2]) is None


@pytest.mark.parametrize("argv, line", [
    pytest.param(["lr=[0.1,,0.2]", "--plan"], "heyhi: override 'lr=[0.1,,0.2]': an empty element in a list", id="sweep"),
    pytest.param(["--lr=[0.1,,0.2]", "--plan"], "heyhi: override 'lr=[0.1,,0.2]': an empty element in a list",
                 id="sweep-dashes"),
    pytest.param(["seed=range(0.5)", "--plan"], "heyhi: override 'seed=range(0.5)': range() takes integers "
                 "(for other values use a list [..] or uniform())", id="range"),
    pytest.param(["lr", "--plan"], "heyhi: override 'lr': expected key=value", id="sweep-path-no-equals"),
    pytest.param(["lr", "--print-flat"], "heyhi: override 'lr': expected key=value", id="run-path-no-equals"),
    pytest.param(["=1", "--print-flat"], "heyhi: override '=1': empty key", id="empty-key"),
])
def test_cli_lines(argv, line):
    """The CLI's one line, through both paths (a sweep, a plain run), exit code 2."""
    from conftest import run_cli

    r = run_cli(["run", "-c", SL, *argv])
    assert r.returncode == 2 and r.stderr.strip() == line, r.stderr
