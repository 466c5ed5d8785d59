/* The generic text/template engine: language, builtins and fmt verbs.
 *
 * The case table is a differential test against Go's text/template: every
 * row's expected output or error text was produced by Go 1.19 running the
 * same template over the same data (a struct {Labels map[string]string,
 * ExternalLabels, ExternalURL, Value interface{}} with Value 1.5, the
 * prefix "{{$labels := .Labels}}{{$value := .Value}}", missingkey=zero, and
 * functions toUpper, first, args and samples).  Rows where Vigil follows a
 * newer Go on purpose (range over integers, "else with", the lexer's
 * "unexpected right paren") are tested separately.  Then the API, the
 * limits, and a fuzz loop that must never crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template.h"
#include "util/sbuf.h"

static int fn_samples(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                      const struct tmpl_value **res)
{
    (void)argv;
    (void)argc;
    struct label lb[] = {{"a", "b"}};
    struct labels ls = {lb, 1};
    struct tmpl_value *l = tmpl_value_query_result(c->heap);
    tmpl_list_append(c->heap, l, tmpl_value_sample(c->heap, &ls, 2));
    *res = l;
    return 0;
}

static const struct tmpl_func extra_funcs[] = {{"samples", "", fn_samples}};

/* Runs one template the way the Go oracle did.  Returns 0 (out set), 1
 * parse error or 2 execution error (err set). */
static int run(const char *text, struct sbuf *out, char *err, size_t errsz)
{
    struct tmpl_funcs extra = {extra_funcs, 1, NULL, NULL};
    struct tmpl_funcs fs = {tmpl_prom_funcs, tmpl_prom_nfuncs, NULL, &extra};
    struct sbuf src = SBUF_INIT;
    sbuf_puts(&src, "{{$labels := .Labels}}{{$value := .Value}}");
    sbuf_puts(&src, text);
    struct tmpl *t = tmpl_new("t", TMPL_MISSINGKEY_ZERO);
    int rc = 0;
    if (tmpl_parse(t, src.data, src.len, &fs, err, errsz) != 0) {
        rc = 1;
    } else {
        struct tmpl_heap *h = tmpl_heap_new();
        struct tmpl_value *d =
            tmpl_value_struct(h, "struct { Labels map[string]string; ExternalLabels "
                                 "map[string]string; ExternalURL string; Value interface {} }");
        struct label lb[] = {{"instance", "h:9"}, {"job", "api"}};
        struct labels ls = {lb, 2};
        tmpl_map_set(h, d, "Labels", tmpl_value_labels(h, &ls));
        tmpl_map_set(h, d, "ExternalLabels", tmpl_value_labels(h, NULL));
        tmpl_map_set(h, d, "ExternalURL", tmpl_value_string(h, "http://x"));
        tmpl_map_set(h, d, "Value", tmpl_value_float(h, 1.5));
        if (tmpl_execute(t, NULL, d, &fs, out, err, errsz) != 0)
            rc = 2;
        tmpl_heap_free(h);
    }
    tmpl_free(t);
    sbuf_free(&src);
    return rc;
}

static const struct {
    const char *text;
    int kind; /* 0 output, 1 parse error, 2 execution error */
    const char *want;
} go_rows[] = {
    {"hello {{ $value }} world", 0, "hello 1.5 world"},
    {"{{ .Labels.job }} {{ $labels.instance }} {{ .Labels.nope }}|", 0, "api h:9 |"},
    {"{{- \" trimmed \" -}}  |  {{- 1 }}", 0, " trimmed |1"},
    {"a  {{- /* comment */ -}}  b", 0, "ab"},
    {"{{/* c */}}x", 0, "x"},
    {"{{ if eq .Labels.job \"api\" }}yes{{ else }}no{{ end }}", 0, "yes"},
    {"{{ if eq .Labels.job \"x\" }}1{{ else if eq .Labels.job \"api\" }}2{{ else }}3{{ end }}", 0,
     "2"},
    {"{{ with .Labels.job }}[{{ . }}]{{ else }}none{{ end }}", 0, "[api]"},
    {"{{ with .Labels.nope }}[{{ . }}]{{ else }}none{{ end }}", 0, "none"},
    {"{{ range $k, $v := .Labels }}{{ $k }}={{ $v }};{{ end }}", 0, "instance=h:9;job=api;"},
    {"{{ range .Labels }}{{ . }},{{ else }}empty{{ end }}", 0, "h:9,api,"},
    {"{{ range .ExternalLabels }}{{ . }},{{ else }}empty{{ end }}", 0, "empty"},
    {"{{ range $i, $s := samples }}{{ $i }}:{{ $s.Value }}:{{ $s.Labels.a }}{{ end }}", 0, "0:2:b"},
    {"{{ range $k, $v := .Labels }}{{ if eq $k \"job\" }}{{ break }}{{ end }}{{ $k }}{{ end }}", 0,
     "instance"},
    {"{{ range $k, $v := .Labels }}{{ if eq $k \"instance\" }}{{ continue }}{{ end }}{{ $k }}{{ "
     "end }}",
     0, "job"},
    {"{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}", 0, "12"},
    {"{{ $x := \"a\" }}{{ if true }}{{ $x = \"b\" }}{{ $x := \"c\" }}{{ $x }}{{ end }}{{ $x }}", 0,
     "cb"},
    {"{{ define \"t1\" }}T1({{ . }}){{ end }}{{ template \"t1\" \"arg\" }}{{ template \"t1\" }}", 0,
     "T1(arg)T1(<no value>)"},
    {"{{ block \"b1\" .Labels.job }}B({{ . }}){{ end }}", 0, "B(api)"},
    {"{{ template \"nope\" }}", 2,
     "template: t:1:54: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"},
    {"{{ and 1 0 \"x\" }} {{ and 1 2 }} {{ or 0 \"\" \"z\" }} {{ or 0 \"\" }} {{ not 0 }} {{ not "
     "\"a\" }}",
     0, "0 2 z  true false"},
    {"{{ len .Labels }} {{ len \"h\303\251llo\" }} {{ len samples }}", 0, "2 6 1"},
    {"{{ len 3 }}", 2,
     "template: t:1:45: executing \"t\" at <len 3>: error calling len: len of type int"},
    {"{{ index .Labels \"job\" }} {{ index .Labels \"zz\" }}|{{ index \"abc\" 0 }} {{ index "
     "samples 0 }}",
     0, "api |97 {map[a:b] 2}"},
    {"{{ index samples 5 }}", 2,
     "template: t:1:45: executing \"t\" at <index samples 5>: error calling index: index out of "
     "range: 5"},
    {"{{ index samples 1 }}", 2,
     "template: t:1:45: executing \"t\" at <index samples 1>: error calling index: reflect: slice "
     "index out of range"},
    {"{{ index 3 1 }}", 2,
     "template: t:1:45: executing \"t\" at <index 3 1>: error calling index: can't index item of "
     "type int"},
    {"{{ index .Labels 1 }}", 2,
     "template: t:1:45: executing \"t\" at <index .Labels 1>: error calling index: value has type "
     "int; should be string"},
    {"{{ slice \"abcdef\" 1 }} {{ slice \"abcdef\" 1 3 }} {{ slice \"abcdef\" }}", 0,
     "bcdef bc abcdef"},
    {"{{ slice \"abc\" 2 1 }}", 2,
     "template: t:1:45: executing \"t\" at <slice \"abc\" 2 1>: error calling slice: invalid slice "
     "index: 2 > 1"},
    {"{{ slice \"abc\" 1 2 3 }}", 2,
     "template: t:1:45: executing \"t\" at <slice \"abc\" 1 2 3>: error calling slice: cannot "
     "3-index slice a string"},
    {"{{ print 1 2 \"a\" \"b\" 3 nil }} {{ println 1 \"a\" }}|{{ print }}", 0,
     "1 2ab3 <nil> 1 a\n|"},
    {"{{ printf \"%d|%5d|%-5d|%05d|%+d|%x|%X|%o|%b|%#x|%#o|%c|%q|%U\" 42 42 42 -42 42 255 255 8 5 "
     "255 8 65 66 67 }}",
     0, "42|   42|42   |-0042|+42|ff|FF|10|101|0xff|010|A|'B'|U+0043"},
    {"{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|% x|%#x|%v|%T\" \"abc\" \"abc\" \"abc\" \"abc\" "
     "\"a\\\"b\" \"hi\" \"hi\" \"hi\" \"v\" \"s\" }}",
     0, "abc|       abc|abc       |ab|\"a\\\"b\"|6869|68 69|0x6869|v|string"},
    {"{{ printf \"%f|%.2f|%8.3f|%-8.1f|%e|%E|%g|%G|%.3g|%v|%+.1f|% .1f|%08.2f\" 3.14159 3.14159 "
     "3.14159 3.14159 1234.5678 1234.5678 0.000012345 1e21 1234567.0 1e6 2.0 2.0 -3.5 }}",
     0,
     "3.141590|3.14|   3.142|3.1     "
     "|1.234568e+03|1.234568E+03|1.2345e-05|1E+21|1.23e+06|1e+06|+2.0| 2.0|-0003.50"},
    {"{{ printf \"%t|%v|%5t\" true false true }}", 0, "true|false| true"},
    {"{{ printf \"%d %s\" 1.5 2 }}", 0, "%!d(float64=1.5) %!s(int=2)"},
    {"{{ printf \"%d\" }} {{ printf \"%d %d\" 1 }} {{ printf \"x\" 1 \"a\" }} {{ printf \"%\" }} "
     "{{ printf \"%!\" }}",
     0, "%!d(MISSING) 1 %!d(MISSING) x%!(EXTRA int=1, string=a) %!(NOVERB) %!!(MISSING)"},
    {"{{ printf \"%*d|%-*d|%.*f\" 5 1 5 2 2 3.14159 }}", 0, "    1|2    |3.14"},
    {"{{ printf \"%[2]d %[1]d\" 1 2 }}", 0, "2 1"},
    {"{{ printf \"%s\" .Labels }}", 0, "map[instance:h:9 job:api]"},
    {"{{ printf \"%d\" .Labels }}", 0,
     "map[%!d(string=instance):%!d(string=h:9) %!d(string=job):%!d(string=api)]"},
    {"{{ printf \"%v %d %s\" nil nil nil }}", 0, "<nil> %!d(<nil>) %!s(<nil>)"},
    {"{{ printf \"%6.2v|%v|%v|%v\" 3.14159 1e-7 100000.0 123456789.0 }}", 0,
     "   3.1|1e-07|100000|1.23456789e+08"},
    {"{{ printf \"%x %X %.3x\" 3.5 -1.0 1.0 }}", 0, "0x1.cp+01 -0X1P+00 0x1.000p+00"},
    {"{{ html \"<a href=\\\"x\\\">'&'</a>\" }} {{ html 1 \"<\" }}", 0,
     "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt; 1&lt;"},
    {"{{ js \"a'b\\\"c<d>e&f=g\\\\h\n\" }} {{ js 1 2 }}", 1,
     "template: t:1: unterminated quoted string"},
    {"{{ urlquery \"a b&c=d/\303\251~_.-\" }} {{ urlquery 1 \"x y\" }}", 0,
     "a+b%26c%3Dd%2F%C3%A9~_.- 1x+y"},
    {"{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq \"a\" \"a\" }} {{ eq 1.5 1.5 }} {{ eq true true }} {{ ne "
     "1 2 }} {{ eq $value 1.5 }}",
     0, "true true true true true true true"},
    {"{{ eq $value 1 }}", 2,
     "template: t:1:45: executing \"t\" at <eq $value 1>: error calling eq: incompatible types for "
     "comparison"},
    {"{{ eq 1 }}", 2,
     "template: t:1:45: executing \"t\" at <eq 1>: error calling eq: missing argument for "
     "comparison"},
    {"{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }} {{ lt \"a\" \"b\" }}", 0,
     "true true true false true"},
    {"{{ lt 1 1.5 }}", 2,
     "template: t:1:45: executing \"t\" at <lt 1 1.5>: error calling lt: incompatible types for "
     "comparison"},
    {"{{ lt true false }}", 2,
     "template: t:1:45: executing \"t\" at <lt true false>: error calling lt: invalid type for "
     "comparison"},
    {"{{ lt .Labels .Labels }}", 2,
     "template: t:1:45: executing \"t\" at <lt .Labels .Labels>: error calling lt: invalid type "
     "for comparison"},
    {"{{ eq .Labels .Labels }}", 2,
     "template: t:1:45: executing \"t\" at <eq .Labels .Labels>: error calling eq: non-comparable "
     "type map[instance:h:9 job:api]: map[string]string"},
    {"{{ eq .Labels.nope \"\" }} {{ eq nil nil }}", 0, "true true"},
    {"{{ call 1 }}", 2,
     "template: t:1:45: executing \"t\" at <call 1>: error calling call: non-function of type int"},
    {"{{ call nil }}", 2,
     "template: t:1:45: executing \"t\" at <call nil>: error calling call: call of nil"},
    {"{{ 0x10 }} {{ 1e3 }} {{ 1_000 }} {{ 'a' }} {{ -0x1p-2 }} {{ 0o17 }} {{ 0b101 }} {{ 017 }} {{ "
     ".5 }} {{ -.5 }} {{ +1 }}",
     0, "16 1000 1000 97 -0.25 15 5 15 0.5 -0.5 1"},
    {"{{ 12345678901234567890 }}", 2,
     "template: t:1:45: executing \"t\" at <12345678901234567890>: 12345678901234567890 overflows "
     "int"},
    {"{{ 123456789012345678901234567890 }}", 1,
     "template: t:1: integer overflow: \"123456789012345678901234567890\""},
    {"{{ 1e400 }}", 1, "template: t:1: illegal number syntax: \"1e400\""},
    {"{{ \"a\\tb\\x41\\u00e9\\101\" }} {{ `raw\n` }}", 0, "a\tbA\303\251A raw\n"},
    {"{{ \"bad\\q\" }}", 1, "template: t:1: invalid syntax"},
    {"{{ nil }}", 2, "template: t:1:45: executing \"t\" at <nil>: nil is not a command"},
    {"{{ . }}", 0, "{map[instance:h:9 job:api] map[] http://x 1.5}"},
    {"{{ .Labels.job.x }}", 2,
     "template: t:1:52: executing \"t\" at <.Labels.job.x>: can't evaluate field x in type string"},
    {"{{ $value.x }}", 2,
     "template: t:1:51: executing \"t\" at <$value.x>: can't evaluate field x in type float64"},
    {"{{ .Missing }}", 2,
     "template: t:1:45: executing \"t\" at <.Missing>: can't evaluate field Missing in type struct "
     "{ Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value "
     "interface {} }"},
    {"{{ .Labels.job 1 }}", 2,
     "template: t:1:52: executing \"t\" at <.Labels.job>: job is not a method but has arguments"},
    {"{{ $value 1 }}", 2,
     "template: t:1:45: executing \"t\" at <$value>: can't give argument to non-function $value"},
    {"{{ 1 2 }}", 2,
     "template: t:1:45: executing \"t\" at <1>: can't give argument to non-function 1"},
    {"{{ (1) 2 }}", 2,
     "template: t:1:45: executing \"t\" at <(1) 2>: can't give argument to non-function 1"},
    {"{{ \"x\" | printf \"%s-%s\" \"y\" }}", 0, "y-x"},
    {"{{ .Labels.job | printf \"%q\" | len }}", 0, "5"},
    {"{{ $value | printf \"%.1f\" }}", 0, "1.5"},
    {"{{ ($value) }} {{ (index samples 0).Value }} {{ (index samples 0).Labels.a }}", 0, "1.5 2 b"},
    {"{{ (.Labels).job }}", 0, "api"},
    {"{{ toUpper 1 }}", 2, "template: t:1:53: executing \"t\" at <1>: expected string; found 1"},
    {"{{ $value | toUpper }}", 2,
     "template: t:1:54: executing \"t\" at <toUpper>: wrong type for value; expected string; got "
     "float64"},
    {"{{ 1 | toUpper }}", 2,
     "template: t:1:49: executing \"t\" at <toUpper>: wrong type for value; expected string; got "
     "int"},
    {"{{ toUpper .Labels.job \"x\" }}", 2,
     "template: t:1:45: executing \"t\" at <toUpper>: wrong number of args for toUpper: want 1 got "
     "2"},
    {"{{ first samples 1 }}", 2,
     "template: t:1:45: executing \"t\" at <first>: wrong number of args for first: want 1 got 2"},
    {"{{ first samples | printf \"%v\" }}", 0, "&{map[a:b] 2}"},
    {"{{ args 1 \"a\" nil 2.5 }}", 0, "map[arg0:1 arg1:a arg2:<nil> arg3:2.5]"},
    {"{{ range 1.5 }}{{ end }}", 2,
     "template: t:1:51: executing \"t\" at <1.5>: range can't iterate over 1.5"},
    {"{{ range \"abc\" }}{{ end }}", 2,
     "template: t:1:51: executing \"t\" at <\"abc\">: range can't iterate over abc"},
    {"{{ if }}", 1, "template: t:1: missing value for if"},
    {"{{ if 1 }}", 1, "template: t:1: unexpected EOF"},
    {"{{ if 1 }}{{ else }}{{ else }}{{ end }}", 1, "template: t:1: expected end; found {{else}}"},
    {"{{ end }}", 1, "template: t:1: unexpected {{end}}"},
    {"{{ else }}", 1, "template: t:1: unexpected {{else}}"},
    {"{{ range . }}{{ break }}{{ end }}", 2,
     "template: t:1:51: executing \"t\" at <.>: range can't iterate over {map[instance:h:9 "
     "job:api] map[] http://x 1.5}"},
    {"{{ break }}", 1, "template: t:1: {{break}} outside {{range}}"},
    {"{{ continue }}", 1, "template: t:1: {{continue}} outside {{range}}"},
    {"{{ $x }}", 1, "template: t:1: undefined variable \"$x\""},
    {"{{ $x := 1 }}{{ $x = }}", 1, "template: t:1: missing value for command"},
    {"{{ $x, $y := 1 }}", 1, "template: t:1: too many declarations in command"},
    {"{{ range $a, $b, $c := . }}{{ end }}", 1, "template: t:1: too many declarations in range"},
    {"{{ .Labels.job", 1, "template: t:1: unclosed action"},
    {"{{ \"abc }}", 1, "template: t:1: unterminated quoted string"},
    {"{{ `abc }}", 1, "template: t:1: unterminated raw quoted string"},
    {"{{ 'a }}", 1, "template: t:1: unterminated character constant"},
    {"{{ 'ab' }}", 1, "template: t:1: malformed character constant: 'ab'"},
    {"{{ /* unclosed }}", 1, "template: t:1: unexpected \"/\" in command"},
    {"{{/* unclosed", 1, "template: t:1: unclosed comment"},
    {"{{/* a */ x }}", 1, "template: t:1: comment ends before closing delimiter"},
    {"{{ foo }}", 1, "template: t:1: function \"foo\" not defined"},
    {"{{ 1x }}", 1, "template: t:1: bad number syntax: \"1x\""},
    {"{{ a!b }}", 1, "template: t:1: bad character U+0021 '!'"},
    {"{{ .a!b }}", 1, "template: t:1: bad character U+0021 '!'"},
    {"{{ ( 1 }}", 1, "template: t:1: unclosed left paren"},
    {"{{ | }}", 1, "template: t:1: unexpected \"|\" in command"},
    {"{{ 1 | }}", 0, "1"},
    {"{{ \"a\" | \"b\" }}", 1, "template: t:1: non executable command in pipeline stage 2"},
    {"{{ $x := }}", 1, "template: t:1: missing value for command"},
    {"{{ := }}", 1, "template: t:1: unexpected \":=\" in command"},
    {"{{ : }}", 1, "template: t:1: expected :="},
    {"{{ # }}", 1, "template: t:1: unexpected \"#\" in command"},
    {"{{ template }}", 1, "template: t:1: unexpected \"}}\" in template clause"},
    {"{{ template 1 }}", 1, "template: t:1: unexpected \"1\" in template clause"},
    {"{{ define \"x\" }}", 1, "template: t:1: unexpected EOF"},
    {"{{ define \"x\" }}{{ else }}{{ end }}", 1,
     "template: t:1: unexpected {{else}} in define clause"},
    {"{{ 1.x }}", 1, "template: t:1: bad number syntax: \"1.x\""},
    {"{{ \"a\".b }}", 1, "template: t:1: unexpected . after term \"\\\"a\\\"\""},
    {"{{ nil.b }}", 1, "template: t:1: unexpected . after term \"nil\""},
    {"{{ $.Labels.job }} {{ $ }}", 0, "api {map[instance:h:9 job:api] map[] http://x 1.5}"},
    {"{{ with $x := .Labels.job }}{{ $x }}{{ end }}", 0, "api"},
    {"{{ if $x := 0 }}a{{ else }}{{ $x }}{{ end }}", 0, "0"},
    {"{{ range $i, $e := samples }}{{ $i }}{{ $e.Value }}{{ end }}{{ range $e := samples }}{{ "
     "$e.Value }}{{ end }}",
     0, "022"},
    {"{{ with samples }}{{ len . }}{{ end }}", 0, "1"},
    {"line1\n{{ .Nope }}", 2,
     "template: t:2:3: executing \"t\" at <.Nope>: can't evaluate field Nope in type struct { "
     "Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value "
     "interface {} }"},
    {"line1\n  {{ 1 | toUpper }}", 2,
     "template: t:2:9: executing \"t\" at <toUpper>: wrong type for value; expected string; got "
     "int"},
    {"{{ 1 }}\n{{ end }}", 1, "template: t:2: unexpected {{end}}"},
    {"\n\n{{ if 1 }}\n{{ end", 1, "template: t:4: unclosed action"},
    {"{{ printf \"%5.1q|%c|%U|%#U\" \"abc\" 0x1F600 0x1F600 0x41 }}", 0,
     "  \"a\"|\360\237\230\200|U+1F600|U+0041 'A'"},
    {"{{ printf \"%v\" (args) }}", 0, "map[]"},
    {"{{ printf \"%s\" (printf \"%d\" 3) }}", 0, "3"},
    {"{{ printf \"%08.3f|%-08.3f|%+08.3f|% 08.3f\" -3.14159 3.14159 3.14159 3.14159 }}", 0,
     "-003.142|3.142   |+003.142| 003.142"},
    {"{{ printf \"%5s|%-5s|%05s\" \"\303\251\" \"\303\251\" \"ab\" }}", 0,
     "    \303\251|\303\251    |000ab"},
    {"{{ printf \"%.0f %.0f %.0f %.0f\" 0.5 1.5 2.5 -0.5 }}", 0, "0 2 2 -0"},
    {"{{ printf \"%d%%\" 50 }}", 0, "50%"},
    {"a\n  {{- 1 -}}  \n b", 0, "a1b"},
    {"a {{- 1}} b {{2 -}} c", 0, "a1 b 2c"},
    {"{{-1}} {{1-}}", 1, "template: t:1: bad number syntax: \"1-\""},
    {"{{- /* x */}}y", 0, "y"},
    {"{{ /* x */ }}", 1, "template: t:1: unexpected \"/\" in command"},
    {"x {{- /* x */ -}} \n y", 0, "xy"},
    {"{{ if 1 -}}\n  a\n{{- end }}", 0, "a"},
    {"{{range $k, $v := .Labels -}}\n{{$k}}: {{$v}}\n{{end}}", 0, "instance: h:9\njob: api\n"},
    {"line1\nline2 {{ .Nope }}", 2,
     "template: t:2:9: executing \"t\" at <.Nope>: can't evaluate field Nope in type struct { "
     "Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value "
     "interface {} }"},
    {"line1\nline2\n   {{ $value | toUpper }}", 2,
     "template: t:3:15: executing \"t\" at <toUpper>: wrong type for value; expected string; got "
     "float64"},
    {"{{ if 1 }}\n{{ .Nope }}{{ end }}", 2,
     "template: t:2:3: executing \"t\" at <.Nope>: can't evaluate field Nope in type struct { "
     "Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value "
     "interface {} }"},
    {"{{ printf \"%s\" (toUpper 1) }}", 2,
     "template: t:1:66: executing \"t\" at <1>: expected string; found 1"},
    {"{{ define \"a\" }}{{ .Nope }}{{ end }}{{ template \"a\" . }}", 2,
     "template: t:1:61: executing \"a\" at <.Nope>: can't evaluate field Nope in type struct { "
     "Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value "
     "interface {} }"},
    {"{{ $x := 5 }}{{ define \"a\" }}{{ $x }}{{ end }}", 1,
     "template: t:1: undefined variable \"$x\""},
    {"{{ template \"a\" }}{{ define \"a\" }}A{{ end }}", 0, "A"},
    {"{{ $ := 1 }}", 0, ""},
    {"{{ range $i, $e := .Labels }}{{ $i }}{{ end }}{{ $i }}", 1,
     "template: t:1: undefined variable \"$i\""},
    {"{{ 1 }}{{ else }}", 1, "template: t:1: unexpected {{else}}"},
    {"{{ range .Labels }}{{ $.Labels.job }}{{ end }}", 0, "apiapi"},
    {"{{ len .Labels.nope }}", 0, "0"},
    {"{{ index .Labels.nope 0 }}", 2,
     "template: t:1:45: executing \"t\" at <index .Labels.nope 0>: error calling index: reflect: "
     "string index out of range"},
    {"{{ not .Labels.nope }} {{ and .Labels.nope 1 }}", 0, "true "},
    {"{{ .ExternalLabels.x.y }}", 2,
     "template: t:1:60: executing \"t\" at <.ExternalLabels.x.y>: can't evaluate field y in type "
     "string"},
    {"{{ html .Labels }} {{ js nil }} {{ urlquery }}", 0,
     "map[instance:h:9 job:api] \\u003Cno value\\u003E "},
    {"{{ printf \"%s\" }}{{ printf }}", 2,
     "template: t:1:62: executing \"t\" at <printf>: wrong number of args for printf: want at "
     "least 1 got 0"},
    {"{{ print nil nil 1 }}", 0, "<nil> <nil> 1"},
    {"{{ println }}", 0, "\n"},
    {"{{ printf \"%v|%d\" true true }}", 0, "true|%!d(bool=true)"},
    {"{{ printf \"%.3s|%.10s|%8.3s|\" \"abcdef\" \"ab\" \"abcdef\" }}", 0, "abc|ab|     abc|"},
    {"{{ printf \"%x|%X|% X|%#x\" \"\" \"\\xff\\x00\" \"ab\" \"\" }}", 0, "|FF00|61 62|"},
    {"{{ printf \"%010d|%-010d|%+010d|%.5d|%8.5d|%-8.5d\" -42 42 42 -42 42 42 }}", 0,
     "-000000042|42        |+000000042|-00042|   00042|00042   "},
    {"{{ printf \"%b|%o|%O|%#b\" 5 -8 8 5 }}", 0, "101|-10|0o10|0b101"},
    {"{{ printf \"%5.1f|%-7.2f|%07.2f\" -1.25 2.5 -2.5 }}", 0, " -1.2|2.50   |-002.50"},
    {"{{ printf \"%g|%g|%g|%g|%g\" 0.0001 0.00001 123456.0 1234567.0 1e100 }}", 0,
     "0.0001|1e-05|123456|1.234567e+06|1e+100"},
    {"{{ printf \"%.2g|%.10g|%.0g|%.1g\" 1234.0 0.1 5.5 0.05 }}", 0, "1.2e+03|0.1|6|0.05"},
    {"{{ printf \"%6.3v|%-8v|%08v\" 3.14159 \"ab\" 42 }}", 0, "  3.14|ab      |00000042"},
    {"{{ printf \"%s %s\" \"a\" }}", 0, "a %!s(MISSING)"},
    {"{{ printf \"%!s\" }}", 0, "%!!(MISSING)s"},
    {"{{ printf \"%-\" }}", 0, "%!(NOVERB)"},
    {"{{ printf \"%[3]d\" 1 2 }}", 0, "%!d(BADINDEX)"},
    {"{{ printf \"%[0]d\" 1 }}", 0, "%!d(BADINDEX)"},
    {"{{ printf \"%[x]d\" 1 }}", 0, "%!d(BADINDEX)"},
    {"{{ printf \"%[1]d %d\" 1 2 }}", 0, "1 2"},
    {"{{ printf \"%*d\" \"x\" 1 }}", 0, "%!(BADWIDTH)1"},
    {"{{ printf \"%.*d\" -1 5 }}", 0, "%!(BADPREC)5"},
    {"{{ printf \"%\303\251\" 1 }}", 0, "%!\303\251(int=1)"},
    {"{{ printf \"%d\" 9223372036854775807 }} {{ -9223372036854775808 }}", 0,
     "9223372036854775807 -9223372036854775808"},
    {"{{ printf \"%v\" 1e-320 }} {{ 5e-324 }} {{ 1.7976931348623157e308 }}", 0,
     "1e-320 5e-324 1.7976931348623157e+308"},
    {"{{ printf \"%.2f\" 1e20 }} {{ printf \"%.20f\" 0.1 }}", 0,
     "100000000000000000000.00 0.10000000000000000555"},
    {"{{ eq \"a\" \"a\" \"b\" }} {{ eq 1 \"a\" }}", 2,
     "template: t:1:66: executing \"t\" at <eq 1 \"a\">: error calling eq: incompatible types for "
     "comparison"},
    {"{{ eq .Labels.nope nil }}", 0, "false"},
    {"{{ ne 1 }}", 2,
     "template: t:1:45: executing \"t\" at <ne>: wrong number of args for ne: want 2 got 1"},
    {"{{ lt 1 }}", 2,
     "template: t:1:45: executing \"t\" at <lt>: wrong number of args for lt: want 2 got 1"},
    {"{{ lt nil 1 }}", 2,
     "template: t:1:45: executing \"t\" at <lt nil 1>: error calling lt: invalid type for "
     "comparison"},
    {"{{ eq (index samples 0) (index samples 0) }}", 0, "false"},
    {"{{ slice samples 2 }}", 2,
     "template: t:1:45: executing \"t\" at <slice samples 2>: error calling slice: index out of "
     "range: 2"},
    {"{{ slice nil }}", 2,
     "template: t:1:45: executing \"t\" at <slice nil>: error calling slice: slice of untyped nil"},
    {"{{ index nil }}", 2,
     "template: t:1:45: executing \"t\" at <index nil>: error calling index: index of untyped nil"},
    {"{{ index .Labels }}", 0, "map[instance:h:9 job:api]"},
    {"{{ index \"abc\" 3 }}", 2,
     "template: t:1:45: executing \"t\" at <index \"abc\" 3>: error calling index: reflect: string "
     "index out of range"},
    {"{{ index \"abc\" -1 }}", 2,
     "template: t:1:45: executing \"t\" at <index \"abc\" -1>: error calling index: index out of "
     "range: -1"},
    {"{{ index samples \"a\" }}", 2,
     "template: t:1:45: executing \"t\" at <index samples \"a\">: error calling index: cannot "
     "index slice/array with type string"},
    {"{{ index samples nil }}", 2,
     "template: t:1:45: executing \"t\" at <index samples nil>: error calling index: cannot index "
     "slice/array with nil"},
    {"{{ with $x := 0 }}{{ else }}{{ $x }}{{ end }}", 0, "0"},
    {"{{ with .Labels }}{{ .job }}{{ end }}", 0, "api"},
    {"{{ range $i, $e := samples }}{{ range $e.Labels }}{{ . }}{{ $i }}{{ end }}{{ end }}", 0,
     "b0"},
    {"{{ range samples }}{{ .Labels.a }} {{ .Value }}{{ end }}", 0, "b 2"},
    {"{{ $s := samples }}{{ len $s }}{{ (index $s 0).Value }}", 0, "12"},
    {"{{ .Labels.job | len | printf \"%d\" }}", 0, "3"},
    {"{{ \"x\" | printf \"%s %s\" }}", 0, "x %!s(MISSING)"},
    {"{{ 3 | printf \"%d %d\" 1 }}", 0, "1 3"},
    {"{{ printf \"%s\" | len }}", 0, "12"},
    {"{{ $value | eq 1.5 }}", 0, "true"},
    {"{{ $value | lt 1.0 }}", 0, "true"},
    {"{{ true | and 0 }} {{ 0 | or 1 }} {{ 1 | and 2 }} {{ 0 | or \"\" }}", 0, "0 1 1 0"},
    {"{{ \"\" | not }}", 0, "true"},
    {"{{ and }}", 2,
     "template: t:1:45: executing \"t\" at <and>: wrong number of args for and: want at least 1 "
     "got 0"},
    {"{{ or }}", 2,
     "template: t:1:45: executing \"t\" at <or>: wrong number of args for or: want at least 1 got "
     "0"},
    {"{{ not 1 2 }}", 2,
     "template: t:1:45: executing \"t\" at <not>: wrong number of args for not: want 1 got 2"},
    {"{{ toUpper }}", 2,
     "template: t:1:45: executing \"t\" at <toUpper>: wrong number of args for toUpper: want 1 got "
     "0"},
    {"{{ if and .Labels.job (eq .Labels.job \"api\") }}ok{{ end }}", 0, "ok"},
    {"{{ or .Labels.nope \"default\" }}", 0, "default"},
    {"{{ .Labels.job | printf \"%s-%s\" .Labels.instance }}", 0, "h:9-api"},
    {"{{- \" a \" -}}", 0, " a "},
    {"{{ \"\\x\" }}", 1, "template: t:1: invalid syntax"},
    {"{{ \"\\u12\" }}", 1, "template: t:1: invalid syntax"},
    {"{{ \"\\400\" }}", 1, "template: t:1: invalid syntax"},
    {"{{ '\\x41' }} {{ '\\u00e9' }} {{ '\\'' }} {{ '\"' }}", 0, "65 233 39 34"},
    {"{{ 'ab' }}", 1, "template: t:1: malformed character constant: 'ab'"},
    {"{{ '' }}", 1, "template: t:1: invalid syntax"},
    {"{{ 1.5.3 }}", 1, "template: t:1: unexpected \".3\" in operand"},
    {"{{ 0x }}", 1, "template: t:1: illegal number syntax: \"0x\""},
    {"{{ 0x_1 }}", 0, "1"},
    {"{{ 1__0 }}", 1, "template: t:1: illegal number syntax: \"1__0\""},
    {"{{ 1e }}", 1, "template: t:1: illegal number syntax: \"1e\""},
    {"{{ - }}", 1, "template: t:1: illegal number syntax: \"-\""},
    {"{{ + }}", 1, "template: t:1: illegal number syntax: \"+\""},
    {"{{ 0x1.8p1 }} {{ 1E3 }} {{ 0X1F }}", 0, "3 1000 31"},
    {"{{ true.x }}", 1, "template: t:1: unexpected . after term \"true\""},
    {"{{ $x := 1 }}{{ $x.y }}", 2,
     "template: t:1:60: executing \"t\" at <$x.y>: can't evaluate field y in type int"},
    {"{{ $labels.job.z }}", 2,
     "template: t:1:52: executing \"t\" at <$labels.job.z>: can't evaluate field z in type string"},
    {"{{ $nope }}", 1, "template: t:1: undefined variable \"$nope\""},
    {"{{ $value := 3 }}{{ $value }}", 0, "3"},
    {"{{ .Labels.job", 1, "template: t:1: unclosed action"},
    {"{{ .Labels.job }", 1, "template: t:1: unexpected \"}\" in operand"},
    {"{{ .Labels.job }}}", 0, "api}"},
    {"{{{ .Labels.job }}", 1, "template: t:1: unexpected \"{\" in command"},
    {"{{ .Labels.job }}{{", 1, "template: t:1: unclosed action"},
    {"}}{{ 1 }}", 0, "}}1"},
    {"{{ 1 }}{{ 2", 1, "template: t:1: unclosed action"},
    {"{{ \"a\" \"b\" }}", 2,
     "template: t:1:45: executing \"t\" at <\"a\">: can't give argument to non-function \"a\""},
    {"{{ .Labels.job \"b\" }}", 2,
     "template: t:1:52: executing \"t\" at <.Labels.job>: job is not a method but has arguments"},
    {"{{ (1 2) }}", 2,
     "template: t:1:46: executing \"t\" at <1>: can't give argument to non-function 1"},
    {"{{ () }}", 1, "template: t:1: missing value for parenthesized pipeline"},
    {"{{ (1 | ) }}", 0, "1"},
    {"{{ ((1)) }}", 0, "1"},
    {"{{ ( .Labels ).job }}", 0, "api"},
    {"{{ (.Labels).job.x }}", 2,
     "template: t:1:46: executing \"t\" at <.Labels>: can't evaluate field x in type string"},
    {"{{ range $i, $e, $f := 3 }}{{ end }}", 1, "template: t:1: too many declarations in range"},
    {"{{ if $x, $y := 1 }}{{ end }}", 1, "template: t:1: too many declarations in if"},
    {"{{ with }}{{ end }}", 1, "template: t:1: missing value for with"},
    {"{{ range }}{{ end }}", 1, "template: t:1: missing value for range"},
    {"{{ template \"x\" 1 2 }}", 2,
     "template: t:1:54: executing \"t\" at <{{template \"x\" 1 2}}>: template \"x\" not defined"},
    {"{{ template \"x\" | }}", 1, "template: t:1: unexpected \"|\" in template clause"},
    {"{{ define }}", 1, "template: t:1: unexpected \"}}\" in define clause"},
    {"{{ define 1 }}{{ end }}", 1, "template: t:1: unexpected \"1\" in define clause"},
    {"{{ define \"a\" 1 }}{{ end }}", 1, "template: t:1: unexpected \"1\" in define clause"},
    {"{{ define \"a\" }}{{ end }}{{ define \"a\" }}{{ end }}x", 0, "x"},
    {"{{ block \"a\" }}{{ end }}", 1, "template: t:1: missing value for block clause"},
    {"{{ block \"a\" . }}[{{ . }}]{{ end }}", 0,
     "[{map[instance:h:9 job:api] map[] http://x 1.5}]"},
};

static void test_go_differential(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof go_rows / sizeof go_rows[0]; i++) {
        struct sbuf out = SBUF_INIT;
        char err[2048] = "";
        int rc = run(go_rows[i].text, &out, err, sizeof err);
        const char *got = rc == 0 ? (out.data ? out.data : "") : err;
        if (rc != go_rows[i].kind || strcmp(got, go_rows[i].want) != 0) {
            print_error("template %s\n  want %d %s\n  got  %d %s\n", go_rows[i].text,
                        go_rows[i].kind, go_rows[i].want, rc, got);
            bad++;
        }
        sbuf_free(&out);
    }
    assert_int_equal(bad, 0);
}

static void expect(const char *text, int kind, const char *want)
{
    struct sbuf out = SBUF_INIT;
    char err[2048] = "";
    int rc = run(text, &out, err, sizeof err);
    const char *got = rc == 0 ? (out.data ? out.data : "") : err;
    if (rc != kind || strcmp(got, want) != 0) {
        print_error("template %s\n  want %d %s\n  got  %d %s\n", text, kind, want, rc, got);
        sbuf_free(&out);
        fail();
    }
    sbuf_free(&out);
}

/* Newer Go (1.22+: range over int; 1.23: else with) than the oracle. */
static void test_newer_go(void **state)
{
    (void)state;
    expect("{{ range 3 }}{{ . }}{{ end }}", 0, "012");
    expect("{{ range $i := 2 }}{{ $i }}{{ end }}{{ range 0 }}x{{ else }}none{{ end }}", 0,
           "01none");
    expect("{{ range $i, $e := 3 }}{{ end }}", 2,
           "template: t:1:61: executing \"t\" at <3>: can't use 3 to iterate over more than one "
           "variable");
    expect("{{ with 0 }}a{{ else with 2 }}b{{ . }}{{ else }}c{{ end }}", 0, "b2");
    expect("{{ 1 ) }}", 1, "template: t:1: unexpected right paren");
}

static void test_trim_and_comments(void **state)
{
    (void)state;
    expect("a \n\t{{- 1 -}} \n b", 0, "a1b");
    expect("{{- /* c */ -}}", 0, "");
    expect("x{{/* multi\nline */}}y", 0, "xy");
    expect("{{-1}}|{{ -1 }}", 0, "-1|-1");
    expect("a{{/* c */ }}", 1, "template: t:1: comment ends before closing delimiter");
}

static void test_limits(void **state)
{
    (void)state;
    /* Unbounded recursion stops at the depth limit. */
    struct sbuf out = SBUF_INIT;
    char err[512];
    assert_int_equal(run("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" }}",
                         &out, err, sizeof err),
                     2);
    /* Go's limit (1000 here) or, first, the stack budget. */
    assert_true(strstr(err, "exceeded maximum template depth (1000)") != NULL ||
                strstr(err, "template nesting exceeds 524288 bytes of stack") != NULL);
    sbuf_reset(&out);
    /* Output size. */
    assert_int_equal(run("{{ range 100000 }}0123456789abcdef{{ end }}", &out, err, sizeof err), 2);
    assert_non_null(strstr(err, "output exceeds 1048576 bytes"));
    sbuf_reset(&out);
    /* Steps: a huge range that prints nothing. */
    assert_int_equal(run("{{ range 1000000000000 }}{{ end }}", &out, err, sizeof err), 2);
    assert_non_null(strstr(err, "exceeded"));
    sbuf_reset(&out);
    /* Deep parentheses are a parse error, not a stack overflow. */
    struct sbuf deep = SBUF_INIT;
    for (int i = 0; i < 5000; i++)
        sbuf_putc(&deep, '(');
    sbuf_putc(&deep, '1');
    for (int i = 0; i < 5000; i++)
        sbuf_putc(&deep, ')');
    struct sbuf text = SBUF_INIT;
    sbuf_printf(&text, "{{ %s }}", deep.data);
    assert_int_equal(run(text.data, &out, err, sizeof err), 1);
    sbuf_reset(&text);
    sbuf_reset(&deep);
    for (int i = 0; i < 5000; i++)
        sbuf_puts(&deep, "{{ if 1 }}");
    assert_int_equal(run(deep.data, &out, err, sizeof err), 1);
    sbuf_free(&text);
    sbuf_free(&deep);
    sbuf_free(&out);
}

/* The generic API as the Alertmanager side will use it. */
static int fn_join(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                   const struct tmpl_value **res)
{
    (void)argc;
    (void)c;
    (void)argv;
    *res = NULL; /* no value */
    return 0;
}

static int fn_fail(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                   const struct tmpl_value **res)
{
    (void)argv;
    (void)argc;
    (void)res;
    snprintf(c->err, c->errsz, "boom %s", (const char *)c->ctx);
    return -1;
}

static void test_generic_api(void **state)
{
    (void)state;
    static const struct tmpl_func fns[] = {{"nothing", "", fn_join}, {"boom", "", fn_fail}};
    struct tmpl_funcs fs = {fns, 2, "ctx!", NULL};
    struct tmpl *t = tmpl_new("am", TMPL_MISSINGKEY_DEFAULT);
    char err[512];
    const char *defs = "{{ define \"alert\" }}[{{ .Labels.alertname }}:{{ .Status }}]{{ end }}"
                       "{{ define \"title\" }}{{ len .Alerts }} {{ .Status | toUpper }}{{ end }}";
    struct tmpl_funcs prom = {tmpl_prom_funcs, tmpl_prom_nfuncs, NULL, &fs};
    assert_int_equal(tmpl_parse(t, defs, strlen(defs), &prom, err, sizeof err), 0);
    const char *main_text = "{{ template \"title\" . }}:{{ range .Alerts }}{{ template \"alert\" . "
                            "}}{{ end }} {{ .CommonLabels.missing }} {{ .Receiver }} "
                            "{{ nothing }}";
    assert_int_equal(tmpl_parse(t, main_text, strlen(main_text), &prom, err, sizeof err), 0);

    struct tmpl_heap *h = tmpl_heap_new();
    struct tmpl_value *data = tmpl_value_map(h, false);
    struct tmpl_value *alerts = tmpl_value_list(h);
    for (int i = 0; i < 2; i++) {
        struct tmpl_value *a = tmpl_value_map(h, false);
        struct label lb[] = {{"alertname", i ? "B" : "A"}};
        struct labels ls = {lb, 1};
        tmpl_map_set(h, a, "Labels", tmpl_value_labels(h, &ls));
        tmpl_map_set(h, a, "Status", tmpl_value_string(h, "firing"));
        tmpl_list_append(h, alerts, a);
    }
    tmpl_map_set(h, data, "Alerts", alerts);
    tmpl_map_set(h, data, "Status", tmpl_value_string(h, "firing"));
    tmpl_map_set(h, data, "CommonLabels", tmpl_value_labels(h, NULL));
    tmpl_map_set(h, data, "Receiver", tmpl_value_string(h, "team"));
    struct sbuf out = SBUF_INIT;
    for (int round = 0; round < 2; round++) { /* a parsed template is reusable */
        sbuf_reset(&out);
        assert_int_equal(tmpl_execute(t, NULL, data, &prom, &out, err, sizeof err), 0);
        assert_string_equal(out.data, "2 FIRING:[A:firing][B:firing] <no value> team <no value>");
    }
    sbuf_reset(&out);
    assert_int_equal(tmpl_execute(t, "alert", tmpl_value_nil(), &prom, &out, err, sizeof err), 0);
    assert_string_equal(out.data, "[<no value>:<no value>]");
    assert_int_equal(tmpl_execute(t, "nope", data, &prom, &out, err, sizeof err), -1);
    assert_string_equal(err, "template: no template \"nope\" associated with template \"am\"");

    struct tmpl *t2 = tmpl_new("e", TMPL_MISSINGKEY_ERROR);
    const char *txt = "{{ .CommonLabels.x }}";
    assert_int_equal(tmpl_parse(t2, txt, strlen(txt), &prom, err, sizeof err), 0);
    assert_int_equal(tmpl_execute(t2, NULL, data, &prom, &out, err, sizeof err), -1);
    assert_string_equal(err, "template: e:1:16: executing \"e\" at <.CommonLabels.x>: map has no "
                             "entry for key \"x\"");
    tmpl_free(t2);
    t2 = tmpl_new("f", TMPL_MISSINGKEY_ZERO);
    txt = "{{ boom }}";
    assert_int_equal(tmpl_parse(t2, txt, strlen(txt), &prom, err, sizeof err), 0);
    assert_int_equal(tmpl_execute(t2, NULL, data, &prom, &out, err, sizeof err), -1);
    assert_string_equal(err, "template: f:1:3: executing \"f\" at <boom>: error calling boom: "
                             "boom ctx!");
    tmpl_free(t2);
    /* A failed parse adds no definitions. */
    txt = "{{ define \"alert\" }}changed{{ end }}{{ if }}";
    assert_int_equal(tmpl_parse(t, txt, strlen(txt), &prom, err, sizeof err), -1);
    sbuf_reset(&out);
    assert_int_equal(tmpl_execute(t, "alert", tmpl_value_nil(), &prom, &out, err, sizeof err), 0);
    assert_string_equal(out.data, "[<no value>:<no value>]");
    sbuf_free(&out);
    tmpl_heap_free(h);
    tmpl_free(t);
}

/* Random and truncated inputs: an error or an output, never a crash. */
static void test_fuzz(void **state)
{
    (void)state;
    static const char *const pieces[] = {"{{",
                                         "}}",
                                         "{{-",
                                         "-}}",
                                         " ",
                                         "$x",
                                         ":=",
                                         "=",
                                         "|",
                                         "(",
                                         ")",
                                         ".Labels",
                                         ".job",
                                         "$labels",
                                         "$value",
                                         "if",
                                         "else",
                                         "end",
                                         "range",
                                         "with",
                                         "define",
                                         "template",
                                         "block",
                                         "break",
                                         "continue",
                                         "\"s\"",
                                         "`r`",
                                         "'c'",
                                         "1",
                                         "-2.5e3",
                                         "0x1F",
                                         "nil",
                                         "true",
                                         "printf",
                                         "\"%d %s %v %5.2f\"",
                                         "index",
                                         "slice",
                                         "len",
                                         "eq",
                                         "lt",
                                         "and",
                                         "or",
                                         "not",
                                         "humanize",
                                         "humanizeDuration",
                                         "reReplaceAll",
                                         "\"(a*)*b\"",
                                         "title",
                                         "query",
                                         "first",
                                         "samples",
                                         "args",
                                         "/*",
                                         "*/",
                                         "\\",
                                         "\n",
                                         "é",
                                         "\xff",
                                         ",",
                                         "#",
                                         "print",
                                         "html",
                                         "js",
                                         "urlquery",
                                         "call",
                                         "toTime",
                                         "label",
                                         "sortByLabel",
                                         "match"};
    const size_t np = sizeof pieces / sizeof pieces[0];
    unsigned long seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        struct sbuf text = SBUF_INIT;
        int n = 1 + (int)((seed >> 16) % 24);
        for (int i = 0; i < n; i++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            sbuf_puts(&text, pieces[(seed >> 33) % np]);
        }
        /* Truncate at a random point too. */
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        size_t cut = text.len ? (size_t)((seed >> 33) % (text.len + 1)) : 0;
        struct sbuf out = SBUF_INIT;
        char err[1024];
        int rc = run(text.data ? text.data : "", &out, err, sizeof err);
        assert_true(rc >= 0 && rc <= 2);
        if (text.data)
            text.data[cut] = '\0';
        sbuf_reset(&out);
        rc = run(text.data ? text.data : "", &out, err, sizeof err);
        assert_true(rc >= 0 && rc <= 2);
        sbuf_free(&out);
        sbuf_free(&text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_differential),   cmocka_unit_test(test_newer_go),
        cmocka_unit_test(test_trim_and_comments), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_generic_api),       cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
