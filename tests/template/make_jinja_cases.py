#!/usr/bin/env python3
"""Renders kite's template unit cases with Python's jinja2, configured as Hugging Face transformers
configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, the
{% generation %} tag, HF's tojson / raise_exception / strftime_now), and writes the expectations
to jinja_cases.json next to this script. test_jinja_cases.cpp checks kite against that file.

Run: python3 tests/template/make_jinja_cases.py   (needs jinja2; the output is committed)
"""
import datetime
import json
import os

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2024, 7, 26, 0, 0, 0)


class GenerationTag(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
    return env


# (name, template, variables). Every case renders with these variables as globals.
CASES = [
    # whitespace control
    ("ws_trim_blocks", "{% if true %}\nA\n{% endif %}\nB", {}),
    ("ws_lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\ny", {}),
    ("ws_lstrip_not_after_text", "a  {% if true %}b{% endif %}", {}),
    ("ws_lstrip_not_vars", "  {{ 'v' }}\n", {}),
    ("ws_minus_both", "a  \n {%- if true -%} \n b \n {%- endif -%}  \n c", {}),
    ("ws_plus_keeps", "  {%+ if true %}x{% endif +%}\ny", {}),
    ("ws_var_minus", "a \n {{- 'b' -}} \n c", {}),
    ("ws_comment", "a\n  {# c #}\nb {#- x -#} c", {}),
    ("ws_trailing_newline", "abc\n", {}),
    ("ws_two_trailing_newlines", "abc\n\n", {}),
    ("ws_crlf", "a\r\nb\r\n{% if true %}\r\nc{% endif %}", {}),
    ("ws_raw", "{% raw %}{{ not }}{% x %}{% endraw %}|", {}),
    ("ws_raw_minus", "a  {%- raw -%}  b  {%- endraw -%}  c", {}),
    ("ws_comment_trim", "{# c #}\nx", {}),
    ("ws_block_end_trailing_spaces", "{% if true %}  \nx{% endif %}", {}),
    ("ws_tabs_lstrip", "\t\t{% if true %}t{% endif %}", {}),
    # literals and printing
    ("print_types", "{{ 1 }}|{{ 1.5 }}|{{ 'a' }}|{{ true }}|{{ none }}|{{ [1, 'b', none, true] }}|{{ {'k': 1, 'j': [2]} }}", {}),
    ("print_tuple", "{{ (1, 'a') }}|{{ (1,) }}|{{ () }}|{{ 1, 2 }}", {}),
    ("print_floats", "{{ 0.1 }}|{{ 1e16 }}|{{ 1.0e-5 }}|{{ 123456789.123 }}|{{ 2.0 }}|{{ 1/3 }}|{{ 10/2 }}", {}),
    ("print_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n', 'tab\\t', 'ü'] }}", {}),
    ("print_undefined", "[{{ nothing }}]", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\u00e9\\x41\\d' }}", {}),
    ("string_adjacent", "{{ 'a' 'b' \"c\" }}", {}),
    ("int_underscore", "{{ 1_000 + 1 }}", {}),
    # arithmetic
    ("arith_int", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", {}),
    ("arith_float", "{{ 7 / 2 }} {{ 7.0 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2.0 }} {{ 0.1 + 0.2 }} {{ 3 * 1.5 }}", {}),
    ("arith_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }}", {}),
    ("arith_str", "{{ 'ab' * 3 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ [0] * 3 }} {{ 1 ~ 'x' ~ none }}", {}),
    ("arith_bool", "{{ true + 1 }} {{ true * 3 }} {{ false - 1 }}", {}),
    ("percent_format", "{{ '%s-%d-%05.2f|%x' % ('a', 3, 3.14159, 255) }} {{ '%(a)s' % {'a': 1} }} {{ '%s' % 'x' }}", {}),
    ("compare_chain", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }}", {}),
    ("logic", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ not 0 }} {{ not [] and 1 }} {{ '' or none }}", {}),
    ("in_ops", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in nothing }}", {}),
    ("ternary", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 1 if 0 else 2 if 1 else 3 }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ 2.5 ~ [1] }}", {}),
    ("unary_minus_filter", "{{ -3 | abs }} {{ -(3) }} {{ +2 }}", {}),
    # subscripts and slicing
    ("subscript", "{{ d.a }} {{ d['a'] }} {{ l[0] }} {{ l[-1] }} {{ s[1] }} {{ d.l.1 }} {{ d['missing'] }}|{{ l[10] }}|", {"d": {"a": 1, "l": [5, 6]}, "l": [1, 2, 3], "s": "héllo"}),
    ("slicing", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ l[5:] }} {{ l[-2:] }} {{ l[3:1:-1] }}", {"l": [1, 2, 3, 4, 5], "s": "héllo"}),
    ("dict_methods", "{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z', 'dflt') }} {{ d.get('z') }}", {"d": {"b": 2, "a": 1}}),
    ("dict_attr_vs_item", "{{ d.items is defined }} {{ d['items'] }} {{ d.keys | string | length > 0 }}", {"d": {"items": "I"}}),
    ("none_attr", "[{{ n.x }}] {{ n.x is defined }}", {"n": None}),
    # string methods
    ("str_strip", "[{{ '  a b  '.strip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ '\\n\\na\\n'.lstrip('\\n') }}] [{{ ' a '.rstrip() }}] [{{ 'abc'.strip('ac') }}]", {}),
    ("str_split", "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'a  b'.split(None, 0) }} {{ ''.split() }} {{ ''.split(',') }}", {}),
    ("str_predicates", "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith(('x', 'a')) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'AB'.isupper() }} {{ 'ab'.islower() }} {{ ' '.isspace() }}", {}),
    ("str_case", "{{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'abc'.upper() }} {{ 'ÀB'.lower() }} {{ \"they're bill's\".title() }} {{ 'aBc'.swapcase() }}", {}),
    ("str_find", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ 'héllo'.find('l') }} {{ 'a-b-c'.replace('-', '+') }} {{ 'aaa'.replace('a', 'b', 2) }}", {}),
    ("str_join_format", "{{ ', '.join(['a', 'b']) }} {{ '{} and {}'.format('x', 'y') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='n') }} {{ '{:>5}|{:<4}|{:05d}|{:.2f}'.format('r', 'l', 42, 3.14159) }}", {}),
    ("str_splitlines", "{{ 'a\\nb\\r\\nc\\n'.splitlines() }} {{ 'a\\nb'.splitlines(true) }}", {}),
    ("str_misc", "{{ 'abc'.removeprefix('a') }} {{ 'abc'.removesuffix('c') }} {{ '5'.zfill(3) }} {{ 'a'.center(5) }}| {{ 'ab'.ljust(4) }}| {{ 'a=b=c'.partition('=') }}", {}),
    ("list_methods", "{{ [1, 2, 1].count(1) }} {{ [1, 2, 3].index(2) }}", {}),
    # filters
    ("f_trim_length", "[{{ '  x  ' | trim }}] {{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ nothing | length }} [{{ 'xxaxx' | trim('x') }}]", {}),
    ("f_string_int_float", "{{ 5 | string }} {{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'q' | float }} {{ true | int }} {{ '0x1A' | int(0, 16) }}", {}),
    ("f_list_join", "{{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ [1, 2, 3] | join('-') }} {{ users | join(', ', attribute='name') }} {{ [1, none, 'x'] | join }}", {"users": [{"name": "a"}, {"name": "b"}]}),
    ("f_case", "{{ 'hello world-foo(bar' | title }} {{ 'hELLO' | capitalize }} {{ 'ab' | upper }} {{ 'AB' | lower }} {{ \"it's\" | title }}", {}),
    ("f_replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 1) }} {{ 123 | replace('2', 'x') }}", {}),
    ("f_default", "{{ nothing | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} {{ 0 | d('z', boolean=true) }} {{ 'v' | default('d') }} [{{ nothing | default }}]", {}),
    ("f_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} [{{ [] | first }}]", {}),
    ("f_map", "{{ users | map(attribute='name') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='age', default=0) | list }} {{ [' a', 'b '] | map('trim') | join('|') }}", {"users": [{"name": "x", "age": 3}, {"name": "y"}]}),
    ("f_select", "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ [0, 1, none, 'a'] | select | list }} {{ [1, 2, 3] | select('gt', 1) | list }} {{ ['a', 'b'] | reject('equalto', 'a') | list }} {{ [1, 2, 3] | select('in', [1, 3]) | list }}", {}),
    ("f_selectattr", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='c') | list }} {{ msgs | rejectattr('role', '==', 'user') | list | length }} {{ msgs | selectattr('flag') | list | length }} {{ msgs | selectattr('flag', 'defined') | list | length }} {{ msgs | selectattr('role', 'ne', 'x') | list | length }}", {"msgs": [{"role": "user", "c": 1, "flag": True}, {"role": "bot", "c": 2}, {"role": "user", "c": 3, "flag": False}]}),
    ("f_items_dictsort", "{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ d | dictsort(by='value') }} {% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": 3, "C": 2}}),
    ("f_unique_sort", "{{ [3, 1, 2, 1] | unique | list }} {{ ['b', 'A', 'a'] | unique | list }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ users | sort(attribute='n') | map(attribute='n') | list }}", {"users": [{"n": 2}, {"n": 1}]}),
    ("f_reverse", "{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("f_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}|{{ 'x\\n' | indent(2) }}|", {}),
    ("f_escape_safe", "{{ '<a href=\"x\">&\\'</a>' | escape }} {{ '<b>' | e }} {{ '<i>' | safe }}", {}),
    ("f_wordcount_abs_round", "{{ 'one two, three!' | wordcount }} {{ -5 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(0, 'floor') }} {{ 5 | round }} {{ 1.23456 | round(3) }}", {}),
    ("f_batch_slice", "{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 'x') | list }} {{ [1, 2, 3, 4, 5] | slice(2) | list }} {{ [1, 2, 3, 4] | slice(3, 0) | list }}", {}),
    ("f_min_max_sum", "{{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | min }} {{ [1, 2, 3] | sum }} {{ [1.5, 2] | sum }} {{ users | sum(attribute='n') }} {{ users | max(attribute='n') }} [{{ [] | max }}]", {"users": [{"n": 2}, {"n": 5}]}),
    ("f_center_format_truncate", "[{{ 'ab' | center(6) }}] {{ '%s=%d' | format('x', 3) }} {{ 'hello world foo bar' | truncate(11) }} {{ 'hello world foo bar' | truncate(11, true) }} {{ 'short' | truncate(10) }} {{ 'hello world foo bar' | truncate(9, false, '..', 0) }}", {}),
    ("f_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ 'ü\"\\n<' | tojson }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}", {"d": {"z": 1, "a": [1.5, None, True, "s"], "m": {"x": {}}, "f": 1e-7, "g": 1e22, "i": -0.0}}),
    ("f_tojson_ensure_ascii", "{{ 'é😀' | tojson(ensure_ascii=true) }} {{ [1, 2] | tojson(indent='\\t') }}", {}),
    ("f_attr_pprint", "{{ d | attr('x') }}|{{ [1, 'a'] | pprint }}", {"d": {"x": 1}}),
    ("f_filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    ("iterators", "{{ [1, 2] | map('string') | join(',') }} {{ none | map('upper') | list }} {{ none | selectattr('x') | list }} {{ [3, 1] | reverse | list }} {{ (1, 2) | reverse | list }} {{ [1] | select | list | length }} {{ {'a': 1} | items | list }} {{ [1, 2] | unique | list }} {{ ([1] | select) is iterable }} {{ ([1] | select) is sequence }} {% if [] | select %}truthy{% endif %}", {}),
    ("err_iterator_tojson", "{{ [1, 2] | map('string') | tojson }}", {}),
    ("err_iterator_length", "{{ [1, 2] | select | length }}", {}),
    ("err_iterator_last", "{{ [1, 2] | select | last }}", {}),
    ("markup", "{{ 'a<'|safe + '<b>' }}|{{ '<x>' + 'y&'|safe }}|{{ '<i>'|e + '&' }}|{{ ('%s<'|safe) % '<z>' }}|{{ ('<'|safe) * 2 + '>' }}|{{ ('<'|safe ~ '>') }}|{{ ('a,b'|safe).split(',') }}|{{ ('-'|safe).join(['<', '>']) }}|{{ ('x'|safe).replace('x', '<') }}|{{ ('a'|safe|upper) + '<' }}|{{ ('a'|safe|trim) + '<' }}|{{ '<'|e|e }}|{{ ('x'|safe).strip() + '\'' }}|{{ '%s'|format('<') }}", {}),
    # tests
    ("tests_types", "{{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ nothing is iterable }} {{ true is boolean }} {{ none is none }} {{ x is true }} {{ x is false }}", {"x": True}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is gt 1 }} {{ 2 is ge 2 }} {{ 1 is le 0 }} {{ 'a' is in 'abc' }} {{ none is sameas none }} {{ 'a' is equalto 'a' }}", {}),
    ("tests_defined", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ x is not defined }} {{ x.z is defined }} {{ range is callable }} {{ 'a' is callable }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ 'nope' is filter }}", {"x": {"a": 1}}),
    # statements
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('o', 'e') }};{% endfor %}", {}),
    ("for_else_filter", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }},{% endfor %}|{% for x in [1] if false %}{% else %}none{% endfor %}", {}),
    ("for_unpack", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}{% for k, v in {'x': 1}.items() %}{{ k }}{{ v }}{% endfor %}", {}),
    ("for_dict_iter", "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("for_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("for_scope", "{% set x = 1 %}{% for i in range(3) %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}", {}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }},{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("for_recursive", "{% for n in tree recursive %}{{ n.name }}{% if n.children %}({{ loop(n.children) }}){% endif %}{{ loop.depth }}{% endfor %}", {"tree": [{"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}, {"name": "d"}]}),
    ("for_range", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}", {}),
    ("if_elif", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %},{% endfor %}", {}),
    ("set_scope_if", "{% set a = 1 %}{% if true %}{% set a = 2 %}{% endif %}{{ a }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c }}{{ d }}", {}),
    ("set_block", "{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]{% set y | upper %}up{% endset %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for i in range(4) %}{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}", {}),
    ("namespace_dict_arg", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("macro_basic", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}", {}),
    ("macro_recursive", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}", {}),
    ("macro_globals", "{% set g = 'G' %}{% macro m() %}{{ g }}{{ top }}{% endmacro %}{{ m() }}", {"top": "T"}),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("macro_default_refs_arg", "{% macro m(a, b=a * 2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(3) }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inside{% endcall %}", {}),
    ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("generation_tag", "{% generation %}gen {{ 1 }}{% endgeneration %}!", {}),
    ("dict_global", "{{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }} {{ dict.fromkeys(['a', 'b'], 0) }} {{ dict({'a': 1}, b=2) }}", {}),
    ("strftime", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M') }} {{ strftime_now('%A %B %-d') }}", {}),
    ("dict_literal_dupes", "{{ {'a': 1, 'a': 2} }}", {}),
    ("nested_data", "{% for m in msgs %}{{ m.role }}:{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{{ p.type }}{% endfor %}{% endif %};{% endfor %}", {"msgs": [{"role": "u", "content": "hi"}, {"role": "a", "content": [{"type": "text"}, {"type": "image"}]}]}),
    ("loop_previtem_undefined", "{% for x in [1, 2] %}{{ loop.previtem is defined }}{{ loop.nextitem is defined }}{% endfor %}", {}),
    ("unicode_methods", "{{ 'ÉCOLE'.lower() }} {{ 'straße'.upper() }} {{ 'привет'.upper() }} {{ 'héllo'[1:3] }} {{ 'héllo' | length }}", {}),
    # errors (kite must fail; raise_exception messages must match)
    ("err_raise", "{{ raise_exception('Custom: ' ~ x) }}", {"x": 5}),
    ("err_undefined_attr", "{{ x.a.b }}", {"x": {}}),
    ("err_undefined_add", "{{ 'a' + nothing }}", {}),
    ("err_undefined_call", "{{ nothing() }}", {}),
    ("err_type_add", "{{ 'a' + 1 }}", {}),
    ("err_div_zero", "{{ 1 / 0 }}", {}),
    ("err_mod_zero", "{{ 1 % 0 }}", {}),
    ("err_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("err_dict_update", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("err_syntax_unclosed", "{% if true %}x", {}),
    ("err_syntax_bad_expr", "{{ 1 + }}", {}),
    ("err_unknown_filter", "{{ x | nosuchfilter }}", {}),
    ("err_unknown_test", "{{ x is nosuchtest }}", {}),
    ("err_unknown_tag", "{% include 'other.html' %}", {}),
    ("err_tojson_undefined", "{{ nothing | tojson }}", {}),
    ("err_none_iter", "{% for x in none %}{% endfor %}", {}),
    ("err_compare_types", "{{ 1 < 'a' }}", {}),
    ("namespace_private_attr", "{% set ns = namespace() %}{% set ns._x = 1 %}[{{ ns._x }}]", {}),
    ("unknown_filter_in_if", "{% if false %}{{ x | nosuchfilter }}{{ x is nosuchtest }}{% endif %}{{ 1 if true else x | nosuch }}", {}),
    ("err_unknown_filter_in_loop", "{% if false %}{% for i in [] %}{{ x | nosuchfilter }}{% endfor %}{% endif %}", {}),
    ("err_unknown_filter_toplevel", "{% for i in [] %}{{ x | nosuchfilter }}{% endfor %}", {}),
    ("err_namespace_private_read", "{% set ns = namespace() %}{% set ns._x = 1 %}{{ ns._x + 1 }}", {}),
    ("err_set_attr_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("err_unclosed_comment", "a {# b", {}),
    ("err_undefined_in_str", "{{ nothing in 'abc' }}", {}),
    ("err_unexpected_end", "{% endfor %}", {}),
    ("err_str_join_non_str", "{{ ','.join([1, 2]) }}", {}),
]


def main():
    env = make_env()
    out = []
    for name, template, variables in CASES:
        case = {"name": name, "template": template, "variables": variables}
        try:
            case["output"] = env.from_string(template).render(**variables)
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e) if e.message is not None else ""
            case["error_kind"] = "raise_exception" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
        except Exception as e:  # Python errors inside the sandbox (TypeError, ZeroDivisionError, ...)
            case["error"] = str(e)
            case["error_kind"] = type(e).__name__
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jinja_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
