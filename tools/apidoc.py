#!/usr/bin/env python3
"""weft's API reference, generated from the comments in include/weft/*.h.

Each public header becomes a section: its opening comment, then every
documented declaration (function, macro, type) in header order, with the
comment written directly above it.  Every public function (WEFT_EXTERN or
static inline, not weft__*) needs a comment of its own ending on the line
right above it;
--check fails when one has none, or when docs/api.md is stale.

    tools/apidoc.py            write docs/api.md
    tools/apidoc.py --check    exit 1 if a function is undocumented or docs/api.md is stale
    tools/apidoc.py --out F    write the reference to F
    tools/apidoc.py --signatures NAME...   print those declarations (the guide shows them)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = os.path.join(ROOT, "include", "weft")
API_MD = os.path.join(ROOT, "docs", "api.md")
ORDER = ["weft.h", "time.h", "sync.h", "sim.h", "test.h", "error.h", "version.h", "export.h"]


def comment_text(raw):
    """The text of a /* ... */ comment, without the stars."""
    body = raw.strip()[2:-2]
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\* ?", "", line) if line.strip().startswith("*") else line.strip()
        lines.append(line.rstrip())
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def strip_comments(line):
    return re.sub(r"/\*.*?\*/", "", line)


def parse(path):
    """The header's opening comment and [(kind, name, signature, comment)]:
    every top-level declaration, with the comment that ends on the line
    right above it (or None)."""
    lines = open(path).read().split("\n")
    head, items = None, []
    pending, pending_end = None, -2
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s:
            i += 1
            continue
        if s.startswith("/*"):
            start = i
            while "*/" not in lines[i]:
                i += 1
            text = comment_text("\n".join(lines[start:i + 1]))
            if start == 0:
                head = text
            else:
                pending, pending_end = text, i
            i += 1
            continue
        doc = pending if pending_end == i - 1 else None
        start = i
        if s.startswith("#"):
            while lines[i].rstrip().endswith("\\"):
                i += 1
            m = re.match(r"#\s*define\s+(\w+)(\([^)]*\))?", s)
            if m:
                full = " ".join(l.strip().rstrip("\\").strip() for l in lines[start:i + 1])
                items.append(("macro", m.group(1), "#define " + m.group(1) + (m.group(2) or ""), doc,
                              re.sub(r"\s+", " ", full)))
            i += 1
            continue
        # a C statement at file scope: up to a ';' at depth 0, or the '}'
        # closing a function body
        if s.startswith('extern "C"') or s == "}":
            i += 1
            continue
        depth, text = 0, []
        while i < len(lines):
            code = strip_comments(lines[i])
            text.append(lines[i])
            depth += code.count("{") - code.count("}")
            if depth == 0 and (code.rstrip().endswith(";") or code.rstrip().endswith("}")):
                break
            i += 1
        else:
            raise SystemExit("apidoc: %s:%d: cannot find the end of this declaration" % (path, start + 1))
        i += 1
        stmt = "\n".join(text)
        flat = re.sub(r"\s+", " ", strip_comments(stmt)).strip()
        if flat.startswith('extern "C"') or flat == "}":
            continue
        if "WEFT_EXTERN" in flat and "(" in flat.split("=")[0] and not re.search(r"\[\d*\]\s*;$", flat):
            name = re.search(r"(\w+)\s*\((?!\()", re.sub(r"__attribute__\(\(.*?\)\)", "", flat)).group(1)
            items.append(("function", name, flat, doc))
        elif "WEFT_EXTERN" in flat:
            items.append(("variable", re.search(r"(\w+)\s*(\[[^]]*\])?\s*;$", flat).group(1), flat, doc))
        elif flat.startswith("static inline"):
            name = re.search(r"(\w+)\s*\(", flat).group(1)
            items.append(("function", name, flat.split("{")[0].strip(), doc))
        elif flat.startswith("typedef") or flat.startswith("struct") or flat.startswith("enum"):
            fnptr = re.match(r"typedef [^(]*\(\s*\*\s*(\w+)\s*\)", flat)
            names = re.findall(r"(\w+)\s*;$", flat)
            tag = re.findall(r"^(?:typedef\s+)?(?:struct|enum)\s+(\w+)", flat)
            first = re.findall(r"^enum\s*\{\s*(\w+)", flat)
            if fnptr:
                name = fnptr.group(1)
            elif names and names[-1] not in ("}",):
                name = names[-1]
            elif tag:
                name = tag[0]
            elif first:
                name = first[0] + ", ..."
            else:
                name = "constants"
            items.append(("type", name, stmt.strip(), doc))
    return head, items


def undocumented(headers):
    bad = []
    for h in headers:
        _, items = parse(os.path.join(HEADERS, h))
        for kind, name, sig, doc, *_ in items:
            public = "WEFT_EXTERN" in sig or sig.startswith("static inline")
            if kind == "function" and public and not name.startswith("weft__") and not doc:
                bad.append("%s: %s" % (h, name))
    return bad


def headers():
    have = sorted(f for f in os.listdir(HEADERS) if f.endswith(".h"))
    return [h for h in ORDER if h in have] + [h for h in have if h not in ORDER]


def render():
    out = ["# weft API reference", "",
           "Generated by `tools/apidoc.py` (`ninja -C build apidoc`) from the comments in",
           "`include/weft/*.h`; edit those, not this file. The guide (`docs/guide.md`)",
           "explains how the pieces fit together.", ""]
    hs = headers()
    out.append("Headers: " + ", ".join("[`weft/%s`](#weft%s)" % (h, h.replace(".", "")) for h in hs))
    out.append("")
    for h in hs:
        head, items = parse(os.path.join(HEADERS, h))
        out += ["## weft/%s" % h, ""]
        if head:
            out += [head, ""]
        for kind, name, sig, doc, *_ in items:
            if name.startswith("weft__") or name.startswith("WEFT__"):
                continue
            if not doc and kind != "function":
                continue
            sig = re.sub(r"^(extern )?WEFT_EXTERN ", r"\1", sig)
            out += ["### `%s`" % name, "", "```c", sig, "```", ""]
            if doc:
                out += [doc, ""]
    return "\n".join(out).rstrip() + "\n"


def signatures(names):
    """The declarations of `names`, one per line, as the headers have them
    (a macro as its whole definition), for the guide to show."""
    found = {}
    for h in headers():
        for kind, name, sig, doc, *full in parse(os.path.join(HEADERS, h))[1]:
            rank = {"function": 0, "macro": 1}.get(kind, 2)  # weft_sleep: the macro, not the type
            if name in names and (name not in found or rank < found[name][0]):
                text = full[0] if full else sig
                found[name] = (rank, re.sub(r"^(extern )?WEFT_EXTERN ", r"\1", text))
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit("apidoc: no declaration of " + ", ".join(missing))
    return "\n".join(found[n][1] for n in names) + "\n"


def main(argv):
    if argv and argv[0] == "--signatures":
        sys.stdout.write(signatures(argv[1:]))
        return 0
    text = render()
    if "--check" in argv:
        bad = undocumented(headers())
        for b in bad:
            print("apidoc: no comment above the public function %s" % b)
        stale = not os.path.exists(API_MD) or open(API_MD).read() != text
        if stale:
            print("apidoc: docs/api.md is stale: run tools/apidoc.py (or ninja -C build apidoc)")
        if bad or stale:
            return 1
        print("apidoc: every public function documented, docs/api.md current")
        return 0
    path = argv[argv.index("--out") + 1] if "--out" in argv else API_MD
    with open(path, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
