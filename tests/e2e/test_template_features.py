"""Chat templates: the Jinja subset feature by feature, against jinja2.

Each case is a small hand-written template and a context; transformers' jinja2
environment (the one apply_chat_template uses) renders it, and so does inferd's
tmpl_render tool; the bytes must match, or both must fail. The cases are made
here (no outside data), so this suite runs on a fresh clone.
"""
import json
import subprocess

import pytest

ctu = pytest.importorskip("transformers.utils.chat_template_utils")

MSGS = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
        {"role": "user", "content": "bye"}]

CASES = [
    ("scope_if_in_loop_outer", "{% set y = 'outer' %}{% for i in [1, 2] %}{% if i == 1 %}{% set y = 'inner' %}{% endif %}{{ y }},{% endfor %}{{ y }}", {}),
    ("scope_macro_no_loop_var", "{% macro show() %}[{{ m }}]{% endmacro %}{% for m in [1] %}{{ show() }}{% endfor %}", {}),
    ("scope_ns_into_macro", "{% macro bump(ns) %}{% set ns.n = ns.n + 1 %}{% endmacro %}{% set ns = namespace(n=0) %}{{ bump(ns) }}{{ bump(ns) }}{{ ns.n }}", {}),
    ("scope_set_block_in_loop", "{% for i in [1, 2] %}{% set t %}<{{ i }}>{% endset %}{{ t }}{% endfor %}[{{ t }}]", {}),
    ("scope_loop_var_after_loop", "{% for i in [1, 2] %}{% endfor %}[{{ i }}]", {}),
    ("scope_with_reads_outer", "{% set a = 1 %}{% with a = a + 1, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", {}),
    ("scope_macro_set_param", "{% macro m(x) %}{% set x = x ~ '!' %}{{ x }}{% endmacro %}{% set x = 'top' %}{{ m('arg') }}{{ x }}", {}),
    ("scope_nested_loops_set", "{% for a in [1, 2] %}{% set s = a %}{% for b in [10] %}{% set s = s + b %}{{ s }} {% endfor %}{{ s }};{% endfor %}", {}),
    ("scope_context_shadow", "{% set messages = messages[1:] %}{{ messages|length }}{% for m in messages %}{{ m.role[0] }}{% endfor %}", {"messages": MSGS}),
    ("scope_loop_filter_sees_outer", "{% set lim = 2 %}{% for x in [1, 2, 3] if x <= lim %}{{ x }}{% endfor %}", {}),
    # --- more lexer and expression corners ---
    ("lex_braces_in_strings", "{{ '}}' }}{{ '{%' }}{{ \"%}\" }}{% if '%}' %}ok{% endif %}", {}),
    ("lex_nested_dict_close", "{{ {'a': {'b': 1}} }}{{ {'a': {'b': 1}}['a'] }}", {}),
    ("lex_multiline_tag", "{%- set x = {\n    'a': 1,\n    'b': [1,\n 2]\n} %}{{ x }}\n{{\n  x.a\n}}", {}),
    ("lex_string_with_newline", "{{ 'a\nb' }}|{{ 'c\r\nd' }}", {}),
    ("lex_text_after_tag_same_line", "x\n  {% if true %}text\n  {% endif %}\ny", {}),
    ("lex_minus_end_then_spaces", "{% if true -%}   \n\n  a{%- endif %}", {}),
    ("lex_comment_lstrip_trim", "a\n   {# c #}\nb\n   {#- c -#}   \nc", {}),
    ("lex_var_at_line_start", "a\n{{ 'b' }}\n{{- 'c' }}\n", {}),
    ("lex_block_at_eof", "a{% if true %}b{% endif %}", {}),
    ("lex_only_text", "just text, no tags", {}),
    ("lex_empty", "", {}),
    ("expr_percent_int_float", "{{ '%d' % 3.7 }} {{ '%s-%s' % (1, none) }} {{ '%r' % 'q' }}", {}),
    ("expr_json_floats", "{{ [1e100, 1.0, 0.5, -2.25e-7, 123456789012345678.0]|tojson }} {{ [1e-05, 1e100] }}", {}),
    ("expr_dict_dup_keys", "{{ {'a': 1, 'a': 2, 'b': 3} }}", {}),
    ("expr_not_in_precedence", "{{ not 'a' in 'abc' }} {{ not 'z' in 'abc' }} {{ 'a' not in ['a'] }}", {}),
    ("expr_join_dict", "{{ {'x': 1, 'y': 2}|join('+') }}", {}),
    ("expr_unicode_compare", "{{ 'é' > 'z' }} {{ '가' < '나' }} {{ ['b', 'a', 'é']|sort }}", {}),
    ("expr_int_overflow_float", "{{ 2 ** 62 }} {{ 9007199254740993 }} {{ 10 ** 15 / 3 }}", {}),
    ("macro_default_uses_param", "{% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }} {{ m('x', 'y') }}", {}),
    ("macro_nested_def", "{% macro outer() %}{% macro inner(x) %}<{{ x }}>{% endmacro %}{{ inner(1) }}{{ inner(2) }}{% endmacro %}{{ outer() }}", {}),
    ("macro_caller_missing", "{% macro m() %}[{{ caller is defined }}]{% endmacro %}{{ m() }}", {}),
    ("macro_in_loop_sees_closure", "{% for i in [1, 2] %}{% macro show() %}{{ i }}{% endmacro %}{{ show() }}{% endfor %}", {}),
    ("loop_string_last", "{% for c in 'héé' %}{{ c }}{{ '.' if loop.last else ',' }}{% endfor %}", {}),
    ("loop_items_loopvars", "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ loop.index }}{{ k }}{{ v }}{% endfor %}", {}),
    ("loop_nested_outer", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [3, 4] %}{{ outer.index }}{{ loop.index }} {% endfor %}{% endfor %}", {}),
    ("set_in_loop_shadow_loopvar", "{% for tc in [{'function': {'name': 'f'}}, {'name': 'g'}] %}{% if tc.function %}{% set tc = tc.function %}{% endif %}{{ tc.name }}{% endfor %}", {}),
    ("undefined_compare_ops", "{{ nothing == nothing2 }} {{ nothing == none }} {{ nothing != 'x' }} {{ not nothing }} {{ nothing is none }}", {}),
    ("undefined_lt_fails", "{{ nothing < 1 }}", {}),
    ("undefined_call_fails", "{{ nothing() }}", {}),
    ("undefined_iter_methods", "{{ nothing|list }} {{ nothing|join }} [{{ nothing|first }}] {{ nothing|items|list }} {{ nothing|default([])|length }}", {}),
    ("none_plus_str_fails", "{{ none + 'a' }}", {}),
    ("int_index_on_dict", "{{ {1: 'one'}[1] }} {{ {1: 'one'}[1.0] }} {{ {true: 'yes'}[1] }}", {}),
    # --- whitespace control: trim_blocks, lstrip_blocks, -, +, comments, raw ---
    ("ws_trim", "a\n{% if true %}\nb\n{% endif %}\nc\n", {}),
    ("ws_lstrip", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("ws_lstrip_midline", "a  {% if true %}b{% endif %}  c", {}),
    ("ws_minus_both", "a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n  c", {}),
    ("ws_plus", "a\n  {%+ if true +%}\nb\n  {%+ endif %}\nc", {}),
    ("ws_var_minus", "a \n {{- 'x' -}} \n b", {}),
    ("ws_var_no_lstrip", "a\n    {{ 'x' }}\n", {}),
    ("ws_comment", "a\n  {# note #}\nb {#- tight -#} c\n{# x #}d", {}),
    ("ws_comment_multiline", "a{# line1\nline2 #}b", {}),
    ("ws_raw", "{% raw %}{{ not }} {% evaluated %}{% endraw %}!", {}),
    ("ws_raw_ws", "x\n  {%- raw -%}  keep {{ this }}  {%- endraw -%}  \ny", {}),
    ("ws_trailing_newline", "line\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n", {}),
    ("ws_tabs", "\t{% if true %}\n\tx\n\t{% endif %}\n", {}),
    ("ws_unicode_space", "a\u3000{%- if true %}b{% endif %}", {}),
    ("ws_for_lines", "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n", {"messages": MSGS}),
    ("ws_nested", "<\n{% for i in range(2) %}\n  {% if i %}\n    one\n  {% else %}\n    zero\n  {% endif %}\n{% endfor %}\n>", {}),
    # --- literals and printing ---
    ("lit_strings", r"""{{ 'a\'b' }}|{{ "c\"d" }}|{{ 'tab\there' }}|{{ 'nl\nx' }}|{{ '\x41\u00e9\U0001F600' }}|{{ 'back\\slash' }}|{{ '\q' }}""", {}),
    ("lit_adjacent", "{{ 'a' 'b' \"c\" }}", {}),
    ("lit_numbers", "{{ 1 }} {{ -2 }} {{ 3.0 }} {{ 1_000 }} {{ 0x1f }} {{ 0b101 }} {{ 0o17 }} {{ 2.5e3 }} {{ 1e-7 }} {{ 123456789.0 }}", {}),
    ("lit_consts", "{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}", {}),
    ("lit_list_dict", "{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ () }} {{ (1, 'b') }}", {}),
    ("print_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', '\\n\\t\\\\'] }}", {}),
    ("print_floats", "{{ 0.1 }} {{ 1/3 }} {{ 2/1 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 1e300*1e10 }}", {}),
    ("print_ctx_values", "{{ a }} {{ b }} {{ c }} {{ d }} {{ e }}", {"a": 1.5, "b": None, "c": [True, False], "d": {"x": {"y": []}}, "e": "é"}),
    ("print_implicit_tuple", "{{ 1, 2 }}", {}),
    # --- operators ---
    ("op_arith", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }}", {}),
    ("op_float_arith", "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1.5 + 1 }} {{ true + 1 }} {{ 10 / 4 * 2 }}", {}),
    ("op_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ not true or true }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", {}),
    ("op_concat", "{{ 'a' ~ 1 ~ none ~ undefined_thing ~ [1] }} {{ 'x' + 'y' }} {{ [1] + [2, 3] }} {{ 'ab' * 3 }} {{ 2 * [0] }}", {}),
    ("op_compare", "{{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 'a' != 'a' }} {{ none == none }} {{ true == 1 }} {{ (1, 2) == [1, 2] }}", {}),
    ("op_in", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'x' in undefined_thing }} {{ '' in 'abc' }}", {}),
    ("op_and_or_values", "{{ 0 or 'b' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or none }} {{ [] or {} }}", {}),
    ("op_cond", "{{ 'y' if 1 else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if 0 }}] {{ 'a' if false else 'b' if true else 'c' }}", {}),
    ("op_percent_format", "{{ '%s is %d years' % ('Tom', 30) }} {{ '%s' % 'x' }} {{ '100%%' % () }}", {}),
    ("op_str_plus_int_fails", "{{ 'a' + 1 }}", {}),
    ("op_div_zero_fails", "{{ 1 / 0 }}", {}),
    ("op_undefined_plus_fails", "{{ nothing + 1 }}", {}),
    ("op_lt_mixed_fails", "{{ 1 < 'a' }}", {}),
    ("op_in_int_fails", "{{ 1 in 'abc' }}", {}),
    # --- access ---
    ("acc_attr_item", "{{ m.role }} {{ m['content'] }} {{ m.missing }}|{{ m['missing'] }}|{{ l[0] }} {{ l[-1] }} [{{ l[10] }}] {{ s[1] }} {{ s[-1] }}", {"m": {"role": "user", "content": "c"}, "l": [1, 2, 3], "s": "héllo"}),
    ("acc_dict_method_shadow", "{{ d.items is defined }} {{ d['items'] }} {{ d.get('items') }} {{ d.keys()|list }} {{ d.values()|list }}", {"d": {"items": 3, "b": 4}}),
    ("acc_none_attr", "[{{ n.x }}] [{{ n['y'] }}] {{ n.x is defined }}", {"n": None}),
    ("acc_undefined_attr_fails", "{{ foo.bar }}", {}),
    ("acc_undefined_item_fails", "{{ foo['bar'] }}", {}),
    ("acc_nested_undefined_fails", "{{ d.x.y }}", {"d": {}}),
    ("acc_defined_on_missing", "{{ d.x is defined }} {{ d.x is undefined }} {{ d.x|default('dflt') }}", {"d": {}}),
    ("acc_int_attr_on_list", "{{ l.0 }} {{ l.1 }}", {"l": ["a", "b"]}),
    ("acc_slices", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[1:3] }} {{ l[5:] }} {{ s[::-1] }} {{ s[1:3] }} {{ s[-2:] }} {{ l[-10:2] }}", {"l": [0, 1, 2, 3, 4], "s": "añoño"}),
    ("acc_dunder_blocked", "{{ s.__class__ is defined }}", {"s": "x"}),
    ("acc_private_key", "{{ d._x }}", {"d": {"_x": 5}}),
    # --- statements ---
    ("st_if_elif", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x == 3 %}three{% else %}many{% endif %} {% endfor %}", {}),
    ("st_for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("st_for_prev_next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}]{% endfor %}", {}),
    ("st_for_cycle_depth", "{% for x in [1, 2, 3] %}{{ loop.cycle('a', 'b') }}{% for y in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}{% endfor %}", {}),
    ("st_for_filter", "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{{ ',' if not loop.last }}{% endfor %}", {"messages": MSGS}),
    ("st_for_else", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in [1] if x > 5 %}x{% else %}filtered{% endfor %}", {}),
    ("st_for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %} {% for (k, v) in d|items %}{{ k }}{% endfor %}", {"d": {"x": 1, "y": [2]}}),
    ("st_for_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("st_for_undefined", "[{% for x in nothing %}x{% endfor %}]", {}),
    ("st_for_none_fails", "{% for x in n %}x{% endfor %}", {"n": None}),
    ("st_for_unpack_fails", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("st_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("st_scoping_loop", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }}|{% endfor %}{{ x }}", {}),
    ("st_scoping_iter_fresh", "{% for i in range(3) %}{% if i == 0 %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}", {}),
    ("st_scoping_if_leaks", "{% if true %}{% set z = 3 %}{% endif %}{{ z }}", {}),
    ("st_namespace", "{% set ns = namespace(n=0, last=none) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.n }} {{ ns.last }} {{ ns.missing is defined }}", {"messages": MSGS}),
    ("st_namespace_attr_filter", "{% set ns = namespace(role='r') %}{{ ns|attr('role') }}", {}),
    ("st_namespace_empty", "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }} {{ ns['a'] }}", {}),
    ("st_namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("st_set_non_namespace_fails", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("st_set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set c = 1, 2 %}{{ c }}", {}),
    ("st_set_block", "{% set x %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ x }}]{% set y | upper | trim %}  up  {% endset %}[{{ y }}]", {}),
    ("st_macro", "{% macro greet(name, greeting='Hello', punct='!') -%}\n{{ greeting }}, {{ name }}{{ punct }}\n{%- endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(name='Cy', punct='?') }} [{{ greet() }}]", {}),
    ("st_macro_recursive", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", {}),
    ("st_macro_sees_later_globals", "{% macro m() %}{{ t }}{% endmacro %}{% set t = 3 %}{{ m() }}{% set t = 4 %}{{ m() }}", {}),
    ("st_macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
    ("st_macro_too_many_args_fails", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("st_macro_bad_kwarg_fails", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}", {}),
    ("st_macro_result_is_str", "{% macro m() %} x {% endmacro %}{{ m().strip() }}|{{ m()|length }}|{{ m() ~ '!' }}", {}),
    ("st_call_block", "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('T') %}body {{ 1 }}{% endcall %}", {}),
    ("st_call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    ("st_filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %} {% filter trim | title %}  a b  {% endfilter %}", {}),
    ("st_with", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("st_generation", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}", {"messages": MSGS}),
    ("st_raise_fails", "{{ raise_exception('Bad role: ' ~ 'x') }}", {}),
    ("st_raise_in_branch_not_taken", "{% if false %}{{ raise_exception('no') }}{% endif %}ok", {}),
    # --- filters ---
    ("f_trim", "[{{ '  a b \n'|trim }}] [{{ 'xxaxx'|trim('x') }}] [{{ none|trim }}] [{{ nothing|trim }}]", {}),
    ("f_tojson", "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ [1, 'é', none]|tojson }} {{ 'a\"b'|tojson }} {{ {}|tojson(indent=4) }} {{ []|tojson(indent=4) }}", {"d": {"z": 1, "a": {"b": [1.5, True, None, "<&>'\u2028\n"]}}}),
    ("f_tojson_options", "{{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ d|tojson(ensure_ascii=true) }} {{ d|tojson(indent='\t') }}", {"d": {"z": "é😀", "a": [1, {"c": 2}]}}),
    ("f_tojson_keys", "{{ {1: 'a', true: 'b', none: 'c', 2.5: 'd'}|tojson }}", {}),
    ("f_tojson_undefined_fails", "{{ nothing|tojson }}", {}),
    ("f_length", "{{ 'héllo'|length }} {{ [1, 2]|length }} {{ {'a': 1}|length }} {{ nothing|length }} {{ 'abc'|count }}", {}),
    ("f_length_none_fails", "{{ none|length }}", {}),
    ("f_default", "{{ nothing|default('d') }} {{ nothing|d('x') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|default('n') }} [{{ nothing|default }}]", {}),
    ("f_case", "{{ 'hello WORLD'|upper }} {{ 'Hello'|lower }} {{ 'hello world'|capitalize }} {{ 'hello-world (foo) bar_baz'|title }} {{ 'ÉCOLE'|lower }}", {}),
    ("f_first_last", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ []|first }}] {{ {'k': 1, 'j': 2}|first }}", {}),
    ("f_join", "{{ [1, 'a', none]|join(', ') }} {{ ['x', 'y']|join }} {{ messages|join('|', attribute='role') }} [{{ nothing|join(',') }}]", {"messages": MSGS}),
    ("f_replace", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }} {{ 5|replace('5', 'five') }}", {}),
    ("f_selectattr", "{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|join(',') }} {{ messages|selectattr('tool_calls', 'defined')|list|length }} {{ messages|selectattr('tool_calls')|list|length }}", {"messages": MSGS}),
    ("f_select", "{{ [0, 1, 2, none, '']|select|list }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3]|reject('odd')|list }} {{ ['a', 'b']|select('in', ['a'])|list }} {{ [1, 5, 9]|select('gt', 3)|list }}", {}),
    ("f_generator_truthy", "{% if []|select %}gen-is-true{% endif %}", {}),
    ("f_generator_index", "[{{ ([1, 2]|select)[0] }}] {{ (d|items)[0] is defined }}", {"d": {"a": 1}}),
    ("f_generator_slice_fails", "{{ ([1, 2]|map('string'))[1:] }}", {}),
    ("acc_slice_dict_fails", "{{ d[1:] }}", {"d": {"a": 1}}),
    ("acc_slice_none_fails", "{{ n[1:] }}", {"n": None}),
    ("acc_slice_undefined_fails", "{{ nothing[1:] }}", {}),
    ("f_generator_length_fails", "{{ [1]|select|length }}", {}),
    ("f_map", "{{ messages|map(attribute='role')|list }} {{ ['a', 'b']|map('upper')|join }} {{ messages|map(attribute='nope', default='-')|list }} {{ [' a', 'b ']|map('trim')|list }} {{ ['a']|map('replace', 'a', 'z')|list }}", {"messages": MSGS}),
    ("f_map_nested_attr", "{{ messages|map(attribute='tool_calls.0.function.name')|list }}", {"messages": MSGS[2:3]}),
    ("f_list_string", "{{ 'abc'|list }} {{ {'a': 1}|list }} {{ (1, 2)|list }} {{ 12|string ~ 'x' }} {{ [1]|string }} {{ none|string }}", {}),
    ("f_int_float", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '0x1f'|int(0, 16) }} {{ ' 12 '|int }} {{ '1_000'|int }} {{ '3.5'|float }} {{ 'no'|float }} {{ 2|float }} {{ true|int }}", {}),
    ("f_abs_round", "{{ -3|abs }} {{ (-2.5)|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 1234|round(-2) }} {{ 7|round }}", {}),
    ("f_items_dictsort", "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(reverse=true) }} {{ d|dictsort(by='value') }} {{ {'B': 1, 'a': 2}|dictsort }} {{ {'B': 1, 'a': 2}|dictsort(true) }}", {"d": {"b": 2, "a": 3, "c": 1}}),
    ("f_items_non_mapping_fails", "{{ [1]|items|list }}", {}),
    ("f_unique_sort", "{{ ['a', 'B', 'b', 'A', 'c']|unique|list }} {{ ['a', 'B', 'b']|unique(case_sensitive=true)|list }} {{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [3, 1, 2]|sort(reverse=true) }} {{ messages|sort(attribute='role')|map(attribute='content')|join(',') }}", {"messages": MSGS}),
    ("f_min_max_sum", "{{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A']|min }} {{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum }} {{ [{'n': 1}, {'n': 4}]|sum(attribute='n') }} {{ [1]|sum(start=10) }} [{{ []|max }}]", {}),
    ("f_reverse", "{{ 'abc'|reverse }} {{ [1, 2, 3]|reverse|list }} {{ 'añb'|reverse }}", {}),
    ("f_indent", "[{{ 'a\nb\n\nc'|indent }}] [{{ 'a\nb'|indent(2, true) }}] [{{ 'a\n\nb'|indent(2, blank=true) }}] [{{ 'x\ny'|indent('> ') }}]", {}),
    ("f_wordcount_center", "{{ 'hello, big world_x 42'|wordcount }} [{{ 'ab'|center(7) }}] [{{ 'ab'|center(6) }}]", {}),
    ("f_safe_escape", "{{ '<b>'|safe }} {{ '<b>&\"\\''|e }} {{ '<i>'|escape|escape }} {{ ('<a>'|safe) + '<b>' }} {{ '<c>' + ('<d>'|safe) }} {{ ('x'|safe) ~ '<' }} {{ '<'|safe is escaped }}", {}),
    ("f_attr", "[{{ d|attr('role') }}] {{ d|attr('items') is defined }}", {"d": {"role": "r"}}),
    # --- tests ---
    ("t_types", "{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 's' is string }}{{ {} is mapping }}{{ [] is mapping }}{{ none is none }}{{ true is boolean }}{{ 1 is boolean }}", {}),
    ("t_iterable_sequence", "{{ 's' is iterable }}{{ [] is iterable }}{{ {} is iterable }}{{ 1 is iterable }}{{ nothing is iterable }}{{ 's' is sequence }}{{ {} is sequence }}{{ 1 is sequence }}{{ ([]|select) is sequence }}{{ nothing is sequence }}", {}),
    ("t_values", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ 2 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'Abc' is lower }}", {}),
    ("t_compare", "{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 2 is gt 1 }}{{ 2 is ge 2 }}{{ 1 is lt 2 }}{{ 1 is le 0 }}{{ 1 is ne 1 }}{{ 1 is in [1] }}{{ 'a' is in 'cat' }}{{ 'x' is in nothing }}", {}),
    ("t_defined_callable", "{{ x is defined }}{{ nothing is defined }}{{ nothing is undefined }}{{ raise_exception is callable }}{{ range is defined }}{{ 'upper' is filter }}{{ 'even' is test }}{{ 'nope' is filter }}", {"x": 0}),
    ("t_sameas", "{{ none is sameas none }}{{ 1 is sameas 1 }}{{ true is sameas 1 }}", {}),
    ("t_not", "{{ 1 is not string }}{{ not 1 is string }}{{ nothing is not defined }}", {}),
    ("t_even_undefined_fails", "{{ nothing is even }}", {}),
    # --- str methods ---
    ("m_strip", "[{{ '  x  '.strip() }}][{{ '\n\nx\n'.lstrip('\n') }}][{{ 'x\n\n'.rstrip('\n') }}][{{ 'abcxba'.strip('ab') }}][{{ ' \t\u3000x'.lstrip() }}]", {}),
    ("m_split", "{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ ' a b '.split(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  a  b  '.rsplit(none, 1) }} {{ ''.split() }} {{ ''.split(',') }} {{ 'x</think>y</think>z'.split('</think>')[-1] }}", {}),
    ("m_split_empty_sep_fails", "{{ 'abc'.split('') }}", {}),
    ("m_affix", "{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}{{ ''.startswith('') }}{{ 'a'.endswith('ab') }}", {}),
    ("m_replace_case", "{{ 'aXa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 1) }} {{ 'hello world'.title() }} {{ \"they're 3rd\".title() }} {{ 'hELLO'.capitalize() }} {{ 'aBc'.swapcase() }} {{ 'MiX'.upper() }}{{ 'MiX'.lower() }}", {}),
    ("m_find_count", "{{ 'héllo'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ 'aaaa'.count('aa') }} {{ 'hello'.index('e') }} {{ 'abc'.count('') }} {{ 'hello'.find('l', 3) }}", {}),
    ("m_index_missing_fails", "{{ 'abc'.index('z') }}", {}),
    ("m_format", "{{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='N') }} {{ '{{literal}} {}'.format(1) }} {{ '{!r}'.format('q') }}", {}),
    ("m_join_misc", "{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }} {{ 'a\nb\r\nc'.splitlines() }} {{ '12'.isdigit() }}{{ 'a1'.isalnum() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'AB'.isupper() }}{{ 'ab'.islower() }} {{ '5'.zfill(3) }} {{ 'ab'.ljust(4) }}| {{ 'ab'.rjust(4, '*') }} {{ 'ab'.center(5, '.') }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'prefix_x'.removeprefix('prefix_') }}", {}),
    ("m_join_nonstr_fails", "{{ ','.join([1, 2]) }}", {}),
    ("m_dict", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|length }} {{ d.copy() }}", {"d": {"a": 1, "b": [2]}}),
    ("m_list", "{{ l.index(2) }} {{ l.count(1) }} {{ l.copy() }}", {"l": [1, 2, 1]}),
    ("m_list_append_blocked_fails", "{% set l = [1] %}{{ l.append(2) }}", {}),
    ("m_list_append_is_undefined", "{% set l = [1] %}{{ l.append is defined }}", {}),
    ("m_dict_update_blocked_fails", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    # --- globals ---
    ("g_range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {% for i in range(2, 0) %}x{% endfor %}", {}),
    ("g_range_too_big_fails", "{% for i in range(200000) %}{% endfor %}", {}),
    ("g_dict", "{{ dict(a=1, b='x') }} {{ dict({'c': 3}) }} {{ dict([('d', 4)]) }} {{ dict() }}", {}),
    ("g_strftime", "{{ strftime_now('%Y-%m-%d %H:%M %A %B %d %b') }}", {}),
    ("g_namespace_underscore_fails", "{% set ns = namespace(_x=1) %}", {}),
    ("g_namespace_set_underscore_fails", "{% set ns = namespace() %}{% set ns._y = 1 %}", {}),
    # --- real-template idioms ---
    ("idiom_last_query", "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.multi_step_tool and message.role == 'user' %}{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}{{ ns.last_query_index }}", {"messages": MSGS}),
    ("idiom_tool_call_function", "{%- for tc in messages[2].tool_calls %}{%- if tc.function is defined %}{%- set tc = tc.function %}{%- endif %}{{ tc.name }}({{ tc.arguments|tojson }}){%- endfor %}", {"messages": MSGS}),
    ("idiom_content_parts", "{%- for m in messages %}{%- if m.content is string %}{{ m.content }}{%- else %}{%- for p in m.content if p.type == 'text' %}{{ p.text }}{%- endfor %}{%- endif %}|{%- endfor %}", {"messages": [{"content": "a"}, {"content": [{"type": "text", "text": "b"}, {"type": "image"}]}]}),
    ("idiom_bos_eos", "{{ bos_token }}x{{ eos_token }}", {"bos_token": "<s>", "eos_token": "</s>"}),
]


def render_py(src, ctx):
    try:
        return True, ctu._compile_jinja_template(src).render(**ctx)
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tmpl_cases")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jinja2 on the "\\q" escape case
@pytest.mark.parametrize("name,src,ctx", CASES, ids=[c[0] for c in CASES])
def test_feature_matches_jinja2(tool, case_dir, name, src, ctx, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    tfile, cfile = case_dir / f"{name}.jinja", case_dir / f"{name}.json"
    tfile.write_bytes(src.encode("utf-8"))
    cfile.write_text(json.dumps(ctx, ensure_ascii=False), encoding="utf-8")
    cp = subprocess.run([str(tool("tmpl_render")), "--now", "1767225600", str(tfile), str(cfile)],
                        capture_output=True, timeout=60)
    # strftime_now reads the clock: render the Python side at the same instant.
    import datetime as dt
    fixed = dt.datetime.fromtimestamp(1767225600)

    class Fixed(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return fixed
    monkeypatch.setattr(ctu, "datetime", Fixed)
    ok, expected = render_py(src, ctx)
    err = cp.stderr.decode("utf-8", "replace")
    if not name.endswith("_fails"):
        assert ok, f"jinja2 was expected to render this case: {expected}"
    if ok:
        assert cp.returncode == 0, f"jinja2 renders {expected!r} but inferd fails: {err}"
        assert cp.stdout.decode("utf-8") == expected
    else:
        # 1: a render error; 2: refused at compile (a call to an unknown function).
        assert cp.returncode in (1, 2), f"jinja2 fails ({expected}) but inferd gives {cp.returncode}: {cp.stdout!r} {err}"


UNSUPPORTED = [
    ("{% include 'other.jinja' %}", "line 1:4: unsupported statement 'include'"),
    ("{% extends 'base.jinja' %}", "line 1:4: unsupported statement 'extends'"),
    ("x\n{{ text|wordwrap(20) }}", "line 2:9: unsupported filter 'wordwrap'"),
    ("{{ text|truncate(5) }}", "unsupported filter 'truncate'"),
    ("{% if x is prime %}{% endif %}", "unsupported test 'prime'"),
    ("{{ text.expandtabs() }}", "unsupported method 'expandtabs'"),
    ("{{ cycler('a', 'b') }}", "unsupported function 'cycler'"),
    ("{% for x in tree recursive %}{{ loop(x.children) }}{% endfor %}", "unsupported recursive for loop"),
    ("{{ f(*args) }}", "unsupported *args"),
]


@pytest.mark.parametrize("src,needle", UNSUPPORTED, ids=[u[1] for u in UNSUPPORTED])
def test_unsupported_construct_is_named(tool, case_dir, src, needle):
    # jinja2 may accept these; inferd must refuse them at compile time (exit 2)
    # and say which construct and where, never render something else.
    tfile, cfile = case_dir / "unsupported.jinja", case_dir / "unsupported.json"
    tfile.write_text(src, encoding="utf-8")
    cfile.write_text("{}", encoding="utf-8")
    cp = subprocess.run([str(tool("tmpl_render")), str(tfile), str(cfile)], capture_output=True, timeout=60)
    assert cp.returncode == 2 and cp.stdout == b""
    assert needle in cp.stderr.decode("utf-8")
