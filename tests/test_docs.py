"""The docs stay short and true: README.md is at most 200 lines, and every relative link, every
repository path and every module named in README.md and docs/ exists on this branch; the
settings table names every environment variable the settings module reads.

What counts as "a repository path": text in backticks (or in a fenced block) that starts with one
of the repository's folders (`reviewapp/review/queue.py`, `benchmarks/bench_x.py`, `.ci/run`) or
is a root file (`pyproject.toml`, `Makefile`); a module is a dotted name of one of our packages
(`reviewapp.project.settings`, `inference.replay`, `inference.thresholds.pr_curve`). Celery task
names (`reviewapp.tasks.process_clip`) are names, not modules: they are checked against the tasks
the code declares. Storage keys (`clips/<camera>/...`), URLs and placeholders are not checked."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200

FOLDERS = ("reviewapp", "labeling", "inference", "benchmarks", "tests", "infra", "scripts", "templates", "docs", ".ci")
PACKAGES = ("reviewapp", "labeling", "inference", "benchmarks", "tests")
ROOT_FILE = re.compile(r"^(?:[\w.-]+\.(?:toml|lock|in|ini|cfg)|Makefile|manage\.py|docker-compose\.yml)$")
_FOLDER = "|".join(re.escape(f) for f in FOLDERS)
PATH = re.compile(r"(?<![\w./-])((?:" + _FOLDER + r")/[\w./{},*-]*)")
MODULE = re.compile(r"(?<![\w./-])((?:" + "|".join(PACKAGES) + r")(?:\.\w+)+)")
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.S | re.M)
COMMENT = re.compile(r"<!--.*?-->", re.S)  # notes for the maintainers (TODO(merge)), not docs
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
TASK_NAME = re.compile(r"""name\s*=\s*["']((?:reviewapp|labeling)\.tasks\.\w+)["']""")
ENV_READ = re.compile(r"""_?env\.\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""")
TREE_MARK = "<!-- tests/test_docs.py checks that every name in the next tree exists. -->"


def code_text(text: str) -> list[str]:
    """What is written as code: inline code spans (outside fences) and the lines of fenced blocks."""
    fenced = FENCE.findall(text)
    spans = CODE_SPAN.findall(FENCE.sub("", text))
    return spans + [line for block in fenced for line in block.splitlines()[1:-1]]


def expand_braces(path: str) -> list[str]:
    """`tests/reviewapp/test_{logs,drift}.py` -> both files (one level of braces)."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [path[: m.start()] + part + path[m.end() :] for part in m.group(1).split(",")]


def path_exists(path: str) -> bool:
    path = path.rstrip(".,;:")
    return all(any(ROOT.glob(p)) if "*" in p else (ROOT / p).exists() for p in expand_braces(path))


def task_names() -> set[str]:
    names = set()
    for tasks in [*ROOT.glob("reviewapp/**/tasks.py"), *ROOT.glob("labeling/**/tasks.py")]:
        names.update(TASK_NAME.findall(tasks.read_text()))
    return names


def module_exists(dotted: str, tasks: set[str]) -> bool:
    """The longest prefix must be a module or package; what is left, at most one name defined in it."""
    if dotted in tasks:
        return True
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            rest = parts[n:]
            return not rest or (len(rest) == 1 and re.search(rf"\b{rest[0]}\b", source.read_text()) is not None)
    return False


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#+\s+(.*)$", text, re.M)}


def problems(text: str, page: Path, tasks: set[str]) -> list[str]:
    text = COMMENT.sub("", text)
    found = []
    for code in code_text(text):
        for path in PATH.findall(code):
            if not path_exists(path):
                found.append(f"missing path {path}")
        for token in code.split():
            if ROOT_FILE.match(token) and not (ROOT / token).exists():
                found.append(f"missing file {token}")
        for dotted in MODULE.findall(code):
            if not module_exists(dotted, tasks):
                found.append(f"missing module {dotted}")
    for target in LINK.findall(FENCE.sub("", text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file, _, fragment = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists():
            found.append(f"broken link {target}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            found.append(f"broken anchor {target}")
    return found


def tree_paths(text: str) -> list[str]:
    """The paths of the layout tree that follows TREE_MARK: one name a line, two spaces a level,
    folders ending in "/"; what follows the name is its description."""
    block = FENCE.search(text.split(TREE_MARK, 1)[1]).group(0).splitlines()[1:-1]
    parents: list[tuple[int, str]] = []  # (indent, path) of the open folders
    paths = []
    for line in filter(str.strip, block):
        indent, name = len(line) - len(line.lstrip()), line.split()[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + name
        paths.append(path)
        if name.endswith("/"):
            parents.append((indent, path))
    return paths


# ------------------------------------------------------------------------------------- the docs


def test_the_readme_is_at_most_200_lines():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail into docs/"


def test_every_link_path_and_module_in_the_docs_exists():
    tasks = task_names()
    found = {page.relative_to(ROOT).as_posix(): problems(page.read_text(), page, tasks) for page in PAGES}
    assert not {page: p for page, p in found.items() if p}


def test_every_name_in_the_layout_tree_exists():
    paths = tree_paths((ROOT / "docs/architecture.md").read_text())
    assert len(paths) > 50, "the tree was not found or not parsed"
    assert not [p for p in paths if not (ROOT / p).exists()]


def test_the_settings_table_names_every_environment_variable():
    # settings.py and the topic modules it imports (reviewapp/project/*settings.py)
    read = {n for f in (ROOT / "reviewapp/project").glob("*settings.py") for n in ENV_READ.findall(f.read_text())}
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", (ROOT / "docs/operations.md").read_text()))
    assert read, "no env.<type>(...) call found in settings.py: the pattern is out of date"
    assert not sorted(read - documented), "add these to docs/operations.md#configuration"


# ------------------------------------------------------------------------ the checks themselves


def test_the_checks_find_stale_names_and_broken_links():
    page = ROOT / "docs" / "example.md"
    text = (
        "See `reviewapp/services.py`, `python benchmarks/bench_nothing.py`, `reviewapp.settings`, "
        "`celery -A reviewapp.nowhere`, `inference.replay.no_such_name`, `setup.cfg`, "
        "[gone](gone.md), [anchor](architecture.md#no-such-heading).\n"
        "```sh\npython labeling/export.py\n```\n"
    )
    assert problems(text, page, task_names()) == [
        "missing path reviewapp/services.py",
        "missing path benchmarks/bench_nothing.py",
        "missing module reviewapp.settings",
        "missing module reviewapp.nowhere",
        "missing module inference.replay.no_such_name",
        "missing file setup.cfg",
        "missing path labeling/export.py",
        "broken link gone.md",
        "broken anchor architecture.md#no-such-heading",
    ]


def test_the_tree_check_finds_a_module_that_moved():
    text = (
        f"{TREE_MARK}\n```text\nreviewapp/    the app\n  project/    it\n    settings.py  x\n  services.py  gone\n```\n"
    )
    assert tree_paths(text) == [
        "reviewapp/",
        "reviewapp/project/",
        "reviewapp/project/settings.py",
        "reviewapp/services.py",
    ]
    assert [p for p in tree_paths(text) if not (ROOT / p).exists()] == ["reviewapp/services.py"]


def test_the_checks_accept_what_exists_and_what_is_not_a_path():
    page = ROOT / "docs" / "example.md"
    text = (
        "`reviewapp/review/queue.py`, `tests/reviewapp/test_{logs,drift}.py`, `inference/replay.py:main`, "
        "`python -m inference.replay`, `inference.thresholds.pr_curve`, `reviewapp.tasks.process_clip`, "
        "`DJANGO_SETTINGS_MODULE=reviewapp.project.settings`, `pyproject.toml`, `clips/<camera>/x.mp4`, "
        "`/api/v1/clips/`, `s3://bucket/prefix`, `data.yaml`, [ops](operations.md#configuration), "
        "[web](https://example.com/x.md)."
    )
    assert problems(text, page, task_names()) == []
