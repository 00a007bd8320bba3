"""Layout templating: $variables, Grafana's built-ins, legends, variable queries."""

from __future__ import annotations

import re

import pytest

from watchdeck.core.config.models import Variable
from watchdeck.core.config.types import ModelError
from watchdeck.core.templating import (
    LabelValuesQuery,
    VariableState,
    builtin_values,
    default_state,
    escape_regex,
    format_legend,
    parse_variable_query,
    substitute,
)


def var(name: str, **kwargs: object) -> Variable:
    kwargs.setdefault("values", ["a", "b"])
    return Variable(name=name, **kwargs)  # type: ignore[arg-type]


def chosen(*values: str) -> VariableState:
    return VariableState(tuple(values))


def promql_string_literal(query: str, before: str) -> str:
    """The value Prometheus reads from the double-quoted string that follows ``before``.

    PromQL strings use Go's escapes; only ``\\\\``, ``\\"`` and ``\\n`` occur here.
    """
    start = query.index(before) + len(before)
    assert query[start] == '"'
    out = []
    i = start + 1
    while query[i] != '"':
        if query[i] == "\\":
            nxt = query[i + 1]
            assert nxt in '\\"n', f"unexpected PromQL escape \\{nxt} in {query!r}"
            out.append({"n": "\n"}.get(nxt, nxt))
            i += 2
        else:
            out.append(query[i])
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- substitute


def test_all_reference_syntaxes_expand() -> None:
    variables = {"job": var("job", include_all=False)}
    states = {"job": chosen("api")}
    assert substitute('up{job="$job"}', variables, states) == 'up{job="api"}'
    assert substitute('up{job="${job}"}', variables, states) == 'up{job="api"}'
    assert substitute('up{job="[[job]]"}', variables, states) == 'up{job="api"}'
    assert substitute("${job}_total", variables, states) == "api_total"


def test_raw_format_is_not_escaped() -> None:
    variables = {"m": var("m", multi=True)}
    states = {"m": chosen("a.b", "c")}
    assert substitute("${m:raw}", variables, states) == "a.b,c"


def test_regex_format_escapes_even_for_a_single_value_variable() -> None:
    variables = {"m": var("m", include_all=False)}
    states = {"m": chosen("a.b")}
    assert substitute("$m", variables, states) == "a.b"  # plain: no regex escaping
    assert substitute("${m:regex}", variables, states) == "a\\\\.b"


def test_csv_and_pipe_formats() -> None:
    variables = {"m": var("m", multi=True)}
    states = {"m": chosen("x", "y", "z")}
    assert substitute("${m:csv}", variables, states) == "x,y,z"
    assert substitute("${m:pipe}", variables, states) == "x|y|z"


def test_multi_value_with_regex_metacharacters_reaches_prometheus_as_literal_regex() -> None:
    variables = {"model": var("model", multi=True)}
    query = substitute('vllm:num_requests_running{model_name=~"$model"}', variables,
                       {"model": chosen("Llama-3.1")})
    assert query == 'vllm:num_requests_running{model_name=~"Llama-3\\\\.1"}'
    regex = promql_string_literal(query, "model_name=~")
    assert regex == "Llama-3\\.1"
    # Prometheus anchors label regexes; the dot matches only a dot
    assert re.fullmatch(regex, "Llama-3.1")
    assert not re.fullmatch(regex, "Llama-3x1")


def test_several_values_become_an_alternation_of_escaped_values() -> None:
    variables = {"model": var("model", multi=True)}
    states = {"model": chosen("Llama-3.1", "qwen2.5+x", "a|b")}
    query = substitute('x{model_name=~"$model"}', variables, states)
    regex = promql_string_literal(query, "model_name=~")
    assert regex == "(Llama-3\\.1|qwen2\\.5\\+x|a\\|b)"
    for value in ("Llama-3.1", "qwen2.5+x", "a|b"):
        assert re.fullmatch(regex, value)
    for other in ("Llama-3x1", "qwen2.55x", "a", "b"):
        assert not re.fullmatch(regex, other)


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", 'mixed \\" both', "new\nline"])
def test_quotes_and_backslashes_in_values_cannot_break_out_of_the_string(value: str) -> None:
    variables = {"v": var("v", include_all=False)}
    query = substitute('up{x="$v", y="z"}', variables, {"v": chosen(value)})
    assert promql_string_literal(query, "x=") == value
    assert query.endswith(', y="z"}')


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "(a.b)*"])
def test_quotes_and_backslashes_in_regex_values(value: str) -> None:
    variables = {"v": var("v", multi=True)}
    query = substitute('up{x=~"$v"}', variables, {"v": chosen(value)})
    regex = promql_string_literal(query, "x=~")
    assert re.fullmatch(regex, value)
    assert query.endswith('"}')


def test_all_expands_to_all_value() -> None:
    variables = {"m": var("m", multi=True)}
    assert substitute('x{m=~"$m"}', variables, {"m": VariableState(is_all=True)}) == 'x{m=~".*"}'
    custom = {"m": var("m", multi=True, all_value=".+")}
    assert substitute('x{m=~"$m"}', custom, {"m": VariableState(is_all=True)}) == 'x{m=~".+"}'


def test_all_value_with_quote_is_escaped_except_raw() -> None:
    variables = {"m": var("m", all_value='a"b')}
    all_state = {"m": VariableState(is_all=True)}
    assert substitute('"$m"', variables, all_state) == '"a\\"b"'
    assert substitute("${m:raw}", variables, all_state) == 'a"b'


def test_nothing_chosen_or_no_state_reads_as_all() -> None:
    variables = {"m": var("m", multi=True)}
    assert substitute("$m", variables, {"m": VariableState()}) == ".*"
    assert substitute("$m", variables, {}) == ".*"


def test_builtins() -> None:
    builtins = builtin_values(step=30, rate_interval=60, range_seconds=3600)
    assert builtins == {
        "__interval": "30s",
        "__interval_ms": "30000",
        "__rate_interval": "1m",
        "__range": "1h",
        "__range_s": "3600",
    }
    text = ("rate(x[$__rate_interval]) / $__range_s + avg_over_time(y[${__interval}]) "
            "+ z[$__range] + $__interval_ms")
    assert substitute(text, {}, {}, builtins) == (
        "rate(x[1m]) / 3600 + avg_over_time(y[30s]) + z[1h] + 30000"
    )


def test_builtins_without_values_are_left_alone() -> None:
    assert substitute("rate(x[$__rate_interval])", {}, {}) == "rate(x[$__rate_interval])"


def test_label_replace_group_references_are_untouched() -> None:
    variables = {"m": var("m")}
    text = 'label_replace(up, "dst", "$1-$2", "src", "(.*):(.*)")'
    assert substitute(text, variables, {"m": chosen("a")}) == text


def test_unknown_names_are_untouched() -> None:
    variables = {"m": var("m", include_all=False)}
    text = 'x{a="$nope", b="${nope}", c="[[nope]]", d="${nope:raw}"}'
    assert substitute(text, variables, {"m": chosen("v")}) == text


def test_longer_names_are_not_prefixes() -> None:
    model = var("model", include_all=False)
    model_name = var("model_name", include_all=False)
    text = "$model $model_name ${model}_name"
    only_model = substitute(text, {"model": model}, {"model": chosen("M")})
    assert only_model == "M $model_name M_name"
    both = substitute(text, {"model": model, "model_name": model_name},
                      {"model": chosen("M"), "model_name": chosen("N")})
    assert both == "M N M_name"


def test_escape_regex_escapes_re2_metacharacters() -> None:
    special = "\\.+*?()|[]{}^$"
    escaped = escape_regex(special)
    assert re.fullmatch(escaped, special)
    assert escape_regex("plain-text_09") == "plain-text_09"


# --------------------------------------------------------------------------- legends


def test_format_legend_placeholders() -> None:
    labels = {"__name__": "up", "replica": "r1", "model_name": "llama"}
    assert format_legend("{{replica}}", labels) == "r1"
    assert format_legend("{{ model_name }} p99", labels) == "llama p99"
    assert format_legend("{{replica}}/{{model_name}}", labels) == "r1/llama"


def test_format_legend_missing_label_is_empty() -> None:
    assert format_legend("{{missing}} p99", {"a": "1"}) == " p99"


def test_format_legend_literal_text() -> None:
    assert format_legend("p99", {"a": "1"}) == "p99"


@pytest.mark.parametrize("template", [None, ""])
def test_default_legend_is_the_selector(template: str | None) -> None:
    labels = {"__name__": "up", "job": "api", "instance": "h:9090"}
    assert format_legend(template, labels) == 'up{instance="h:9090", job="api"}'
    assert format_legend(template, {"job": "api"}) == '{job="api"}'
    assert format_legend(template, {"__name__": "up"}) == "up"
    assert format_legend(template, {}) == "{}"


# --------------------------------------------------------------------------- variable queries


@pytest.mark.parametrize(
    ("query", "label", "selector"),
    [
        ("label_values(model_name)", "model_name", None),
        ("label_values( model_name )", "model_name", None),
        ("label_values(vllm:num_requests_running, model_name)", "model_name",
         "vllm:num_requests_running"),
        ('label_values(metric{a="b",c="d"}, label)', "label", 'metric{a="b",c="d"}'),
        ('label_values(metric{a="b", c="d,e"} ,  label)', "label", 'metric{a="b", c="d,e"}'),
        ('label_values({__name__=~"up|down"}, job)', "job", '{__name__=~"up|down"}'),
        ("  label_values(up, instance)  ", "instance", "up"),
    ],
)
def test_parse_variable_query(query: str, label: str, selector: str | None) -> None:
    assert parse_variable_query(query) == LabelValuesQuery(label, selector)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "label_values()",
        "label_values(up, )",
        'label_values(metric{a="b"})',
        "label_values(up, 1bad)",
        "query_result(up)",
        "metrics(up)",
        "label_values(up, job",
        "label_values(up, job) extra",
        "label_names()",
    ],
)
def test_parse_variable_query_errors(query: str) -> None:
    with pytest.raises(ValueError, match="label_values"):
        parse_variable_query(query)


# --------------------------------------------------------------------------- defaults


def test_default_all() -> None:
    assert default_state(var("m", default="all")) == VariableState(is_all=True)
    assert default_state(var("m")) == VariableState(is_all=True)  # include_all by default


def test_default_single_value_and_list() -> None:
    assert default_state(var("m", default="b")) == VariableState(("b",))
    assert default_state(var("m", multi=True, default=["a", "b"])) == VariableState(("a", "b"))


def test_list_default_needs_multi() -> None:
    with pytest.raises((ModelError, ValueError), match="multi"):
        var("m", default=["a", "b"])


def test_without_all_or_default_a_choice_is_picked() -> None:
    state = default_state(var("m", include_all=False, values=["beta", "alpha"]))
    assert not state.is_all
    assert len(state.values) == 1 and state.values[0] in ("alpha", "beta")
    from_query = default_state(var("m", include_all=False, values=None, query="label_values(x)"),
                               choices=["gpu-0"])
    assert from_query == VariableState(("gpu-0",))


def test_without_all_default_or_choices_falls_back_to_all() -> None:
    variable = var("m", include_all=False, values=None, query="label_values(x)")
    assert default_state(variable, choices=[]) == VariableState(is_all=True)


def test_variable_state_describe() -> None:
    assert VariableState(is_all=True).describe() == "all"
    assert VariableState(("a", "b")).describe() == "a, b"
    assert VariableState().describe() == "none"


def test_default_state_takes_the_first_listed_static_value() -> None:
    from watchdeck.core.config.models import Variable
    from watchdeck.core.templating import default_state

    variable = Variable(name="env", values=["prod", "dev", "staging"], include_all=False)
    assert default_state(variable).values == ("prod",)
