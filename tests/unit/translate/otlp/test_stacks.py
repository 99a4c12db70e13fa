"""Stack trace text of each SDK language read as X-Ray frames, and frames written back as text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluoroscope.translate.otlp._stacks import parse, render

from .conftest import END

LANGUAGES = ["python", "java", "php", "nodejs", "webjs", "javascript", "dotnet", "go", "ruby"]

JAVA = """java.lang.IllegalStateException: no total
\tat java.base/java.util.Objects.requireNonNull(Objects.java:233)
\tat app//com.example.Invoice.render(Invoice.java:40)
\tat com.example.Main$$Lambda/0x0000000800c0b000.run(Unknown Source)
"""
NODE = """TypeError: Cannot read properties of undefined (reading 'total')
    at renderInvoice (/app/src/invoice.js:40:17)
    at Array.map (<anonymous>)
    at async Promise.all (index 0)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
    at /app/src/server.js:22:7
"""
DOTNET = """System.InvalidOperationException: no total ---> System.Collections.Generic.KeyNotFoundException: The given key 'total' was not present in the dictionary.
   at System.Collections.Generic.Dictionary`2.get_Item(TKey key)
   at Example.Invoice.Total(IDictionary`2 fields) in C:\\src\\Invoice.cs:line 31
   --- End of inner exception stack trace ---
   at Example.Invoice.Render() in C:\\src\\Invoice.cs:line 40
--- End of stack trace from previous location ---
   at Example.Program.Main(String[] args) in C:\\src\\Program.cs:line 9
"""  # noqa: E501  # .NET prints the whole chain of messages on one line
GO = """goroutine 18 [running]:
runtime/debug.Stack()
\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
main.(*Invoice).Render(0xc0000b2000, {0x7f8b2c, 0x5})
\t/app/invoice.go:40 +0x1a5
net/http.HandlerFunc.ServeHTTP(0x6c6f20?, {0x7f8b2c?, 0xc0000b2000?}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2171 +0x29
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3285 +0x4b4

goroutine 1 [IO wait]:
internal/poll.runtime_pollWait(0x7f0d6c1e8eb0, 0x72)
\t/usr/local/go/src/runtime/netpoll.go:345 +0x85
"""
PHP_SDK = """RuntimeException: no total
\tat App.Invoice.render(Invoice.php:40)
\tat {main}(index.php:9)
Caused by: InvalidArgumentException: total
\tat App.Invoice.total(Invoice.php:31)
\t... 1 more
"""
PHP_NATIVE = """InvalidArgumentException: total in /app/src/Invoice.php:31
Stack trace:
#0 /app/src/Invoice.php(40): App\\Invoice->total(Array)
#1 [internal function]: App\\Invoice->render()
#2 /app/public/index.php(9): call_user_func(Array)
#3 {main}

Next RuntimeException: no total in /app/src/Invoice.php:42
Stack trace:
#0 /app/public/index.php(9): App\\Invoice->render()
#1 {main}
"""


def frame(path, line, label):
    """An X-Ray stack frame."""
    return {"path": path, "line": line, "label": label}


def test_a_java_label_loses_its_class_loader_and_module_prefix():
    """The exporter drops "java.base/" and "app//"; a hidden class keeps its name."""
    (traced,) = parse(JAVA, "java")

    assert traced.frames == [
        frame("Objects.java", 233, "java.util.Objects.requireNonNull"),
        frame("Invoice.java", 40, "com.example.Invoice.render"),
        frame("Unknown Source", 0, "com.example.Main$$Lambda/0x0000000800c0b000.run"),
    ]


@pytest.mark.parametrize("language", ["nodejs", "webjs", "javascript"])
def test_a_v8_stack_is_read_for_every_javascript_sdk(language):
    """Named and anonymous functions; a place with no line keeps its text, with line 0."""
    (traced,) = parse(NODE, language)

    assert traced.frames == [
        frame("/app/src/invoice.js", 40, "renderInvoice"),
        frame("<anonymous>", 0, "Array.map"),
        frame("index 0", 0, "async Promise.all"),
        frame("node:internal/process/task_queues", 95, "process.processTicksAndRejections"),
        frame("/app/src/server.js", 22, ""),
    ]
    assert (traced.exception_type, traced.message) == (
        "TypeError",
        "Cannot read properties of undefined (reading 'total')",
    )


def test_a_dotnet_stack_is_one_exception_per_inner_exception():
    """The outer exception first; frames without a source file have a label only."""
    outer, inner = parse(DOTNET, "dotnet")

    assert (outer.exception_type, outer.message) == ("System.InvalidOperationException", "no total")
    assert outer.frames == [
        frame("C:\\src\\Invoice.cs", 40, "Example.Invoice.Render()"),
        frame("C:\\src\\Program.cs", 9, "Example.Program.Main(String[] args)"),
    ]
    assert inner.exception_type == "System.Collections.Generic.KeyNotFoundException"
    assert inner.frames == [
        frame("", 0, "System.Collections.Generic.Dictionary`2.get_Item(TKey key)"),
        frame("C:\\src\\Invoice.cs", 31, "Example.Invoice.Total(IDictionary`2 fields)"),
    ]


def test_a_dotnet_message_that_says_an_arrow_keeps_every_frame():
    """When the headline's " ---> " do not match the inner stacks, the frames stay together."""
    text = "System.Exception: a ---> b\n   at A.B() in a.cs:line 1\n   at A.C()\n"

    (traced,) = parse(text, "dotnet")

    assert traced.frames == [frame("a.cs", 1, "A.B()"), frame("", 0, "A.C()")]


def test_a_go_stack_is_the_first_goroutine_function_by_function():
    """Arguments and "created by" are left out of labels; other goroutines are not the error's."""
    (traced,) = parse(GO, "go")

    assert traced.frames == [
        frame("/usr/local/go/src/runtime/debug/stack.go", 26, "runtime/debug.Stack"),
        frame("/app/invoice.go", 40, "main.(*Invoice).Render"),
        frame("/usr/local/go/src/net/http/server.go", 2171, "net/http.HandlerFunc.ServeHTTP"),
        frame("/usr/local/go/src/net/http/server.go", 3285, "net/http.(*Server).Serve"),
    ]


def test_a_go_panic_headline_is_its_type_and_message():
    """A panic's own output starts "panic: <value>" before the goroutine."""
    text = "panic: no total\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:20 +0x25\n"

    (traced,) = parse(text, "go")

    assert (traced.exception_type, traced.message) == ("panic", "no total")
    assert traced.frames == [frame("/app/main.go", 20, "main.main")]


def test_the_php_sdks_text_is_read_as_java():
    """The OpenTelemetry PHP SDK writes Java's format, "Caused by" included."""
    latest, earlier = parse(PHP_SDK, "php")

    assert latest.frames == [
        frame("Invoice.php", 40, "App.Invoice.render"),
        frame("index.php", 9, "{main}"),
    ]
    assert earlier.exception_type == "InvalidArgumentException"
    assert earlier.frames == [frame("Invoice.php", 31, "App.Invoice.total")]


def test_phps_own_text_pairs_each_function_with_the_place_it_had_reached():
    """Line "#N place: call()" is where call() was made from, so places move up one function;
    the newest exception ("Next") first."""
    latest, earlier = parse(PHP_NATIVE, "php")

    assert (earlier.exception_type, earlier.message) == ("InvalidArgumentException", "total")
    assert earlier.frames == [
        frame("/app/src/Invoice.php", 31, "App\\Invoice->total"),
        frame("/app/src/Invoice.php", 40, "App\\Invoice->render"),
        frame("[internal function]", 0, "call_user_func"),
        frame("/app/public/index.php", 9, "{main}"),
    ]
    assert latest.exception_type == "RuntimeException"
    assert latest.frames == [
        frame("/app/src/Invoice.php", 42, "App\\Invoice->render"),
        frame("/app/public/index.php", 9, "{main}"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "at",
        "    at \n   at \n\tat \n#0 \n\t:12 +0x1",
        "Error: x\n    at (\n   at no parens\n\tat a(b\n#0 a(b): c\ngoroutine x [running]:",
        "Error: x\r\n    at f (/a.js:1:2)\r\n   at G() in g.cs:line 3\r\n",
        "\x00\ufffd" * 50,
        "(" * 1000 + ":1:2" * 1000,
    ],
)
def test_text_that_is_not_a_stack_is_never_an_error(language, text):
    """Lines a reader does not know are skipped."""
    traced = parse(text, language)

    assert traced
    assert all(set(item) == {"path", "line", "label"} for entry in traced for item in entry.frames)


@given(st.text(), st.sampled_from(LANGUAGES))
def test_any_text_reads_as_frames(text, language):
    """Whatever the text, every frame has a text path and label and an integer line."""
    for traced in parse(text, language):
        for item in traced.frames:
            assert isinstance(item["path"], str)
            assert isinstance(item["label"], str)
            assert isinstance(item["line"], int)


@pytest.mark.parametrize("language", LANGUAGES)
def test_frames_are_written_as_text_that_reads_back_the_same(language):
    """The reverse direction writes each language's own format."""
    label = "Example.Invoice.Render()" if language == "dotnet" else "render"
    frames = [frame("/app/invoice.x", 40, label), frame("/app/main.x", 9, label)]

    text = render(frames, "Error", "no total", language)

    assert text is not None
    assert parse(text, language)[0].frames == frames


@pytest.mark.parametrize(
    ("language", "text", "first"),
    [
        ("nodejs", NODE, frame("/app/src/invoice.js", 40, "renderInvoice")),
        ("dotnet", DOTNET, frame("C:\\src\\Invoice.cs", 40, "Example.Invoice.Render()")),
        ("go", GO, frame("/usr/local/go/src/runtime/debug/stack.go", 26, "runtime/debug.Stack")),
        ("php", PHP_SDK, frame("Invoice.php", 40, "App.Invoice.render")),
    ],
)
def test_an_exception_event_gets_the_frames_of_its_sdks_language(
    make_span, to_document, language, text, first
):
    """telemetry.sdk.language picks the reader, as the SDKs name their languages."""
    event = ("exception", END, {"exception.type": "Error", "exception.stacktrace": text})
    span = make_span(events=[event])

    document = to_document(span, resource={"telemetry.sdk.language": language})

    assert document["cause"]["exceptions"][0]["stack"][0] == first


@pytest.mark.parametrize(("language", "text"), [("java", JAVA), ("nodejs", NODE), ("go", GO)])
def test_a_line_number_too_long_to_be_one_is_unknown(language, text):
    """A line number of twenty digits (or five thousand) is 0, not an integer no document can
    hold, so the span keeps its other frames."""
    for digits in (20, 5000):
        huge = "9" * digits
        bloated = text.replace(":233)", f":{huge})").replace(":40:17)", f":{huge}:17)")
        bloated = bloated.replace("invoice.go:40 ", f"invoice.go:{huge} ")

        frames = [frame for traced in parse(bloated, language) for frame in traced.frames]

        assert frames
        assert all(0 <= frame["line"] < 10**9 for frame in frames)
        assert 0 in [frame["line"] for frame in frames]
