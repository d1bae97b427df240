"""Every subcommand and option of `emailpipe` has a one-line help (issue 15)."""

from __future__ import annotations

import argparse

from emailpipe.cli.main import build_parser


def _without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _without_help(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            text = action.help or ""
            if not text.strip() or "\n" in text:
                missing.append(f"{path} {action.option_strings[0] if action.option_strings else action.dest}")
    return missing


def test_every_subcommand_and_option_has_a_one_line_help():
    assert _without_help(build_parser(), "emailpipe") == []


def test_the_help_of_a_subcommand_names_its_options():
    text = build_parser()._subparsers._group_actions[0].choices["agent"].format_help()
    assert "list" in text and "add" in text
