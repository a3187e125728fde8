"""README and --help from one source: every flag a `seqssl ...` line of the README's code blocks uses (optional
``[...]`` parts included) is accepted by that command, as its --help lists them."""
import re
from pathlib import Path

import typer

from seqssl.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_command_lines() -> list[str]:
    text = README.read_text()
    lines = []
    for block in re.findall(r"```(?:bash|text|sh)?\n(.*?)```", text, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("seqssl "):
                lines.append(line)
    return lines


def command_of(line: str):
    """The click command a line runs (``seqssl runs list`` → the ``list`` command of ``runs``)."""
    command = typer.main.get_command(app)
    for word in line.split()[1:]:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command = sub
    return command


def test_every_readme_flag_is_accepted_by_its_command():
    lines = readme_command_lines()
    assert len(lines) > 20
    refused = []
    for line in lines:
        command = command_of(line)
        accepted = {opt for param in command.params for opt in param.opts} | {"--help"}
        refused += [f"{line[:60]}...: {flag}" for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line)
                    if flag not in accepted]
    assert not refused, refused


def test_help_shows_flags_as_flags():
    from typer.testing import CliRunner as TyperRunner
    result = TyperRunner().invoke(app, ["crossval", "--help"], env={"COLUMNS": "200"})
    assert "--quiet" in result.output and "--quiet <bool>" not in result.output
    assert "may change" in result.output  # the one list of what a resume may change


def test_every_help_example_flag_is_accepted():
    from seqssl.cli_help import EXAMPLES
    refused = []
    for line in (example for examples in EXAMPLES.values() for example in examples):
        command = command_of(line)
        accepted = {opt for param in command.params for opt in param.opts}
        refused += [f"{line[:60]}...: {flag}" for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line)
                    if flag not in accepted]
    assert not refused, refused
