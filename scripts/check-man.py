#!/usr/bin/env python3
"""Checks the man pages against the programs, mechanically, so that a command, an
option or a config key added later without documentation fails `make test`.

    scripts/check-man.py OTPGATE OTPGATED MANDIR

- every page renders with `man -l` without a warning;
- every otpgate command (from `otpgate --experimental-dump-help`, which is what
  `--help` prints) appears as "otpgate COMMAND" in otpgate(1), and each of its long
  options as --OPTION;
- every otpgated option appears in otpgated(8);
- every module option in pam/pam_otpgate.c's option parser appears in pam_otpgate(8);
- every config key ServerConfig, StoreSettings, TierListenerSettings and RelaySettings
  read appears in its [table] section of otpgated.toml(5) (a key before any table, such
  as mode, before the first table).
It then removes one documented option from a copy of each page and checks that the
same comparison fails (a control: the check can fail).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

otpgate, otpgated, mandir = sys.argv[1:4]
ENV = dict(os.environ, LC_ALL="C", LANG="C", MANWIDTH="10000", MAN_KEEP_FORMATTING="")
problems = []


def render(page, width="10000"):
    run = subprocess.run(["man", "--warnings", "-l", page], env=dict(ENV, MANWIDTH=width),
                         capture_output=True, text=True)
    if run.returncode != 0 or run.stderr.strip():
        problems.append(f"{page}: man -l failed or warned: {run.stderr.strip()}")
    # Undo any overstrike bold/underline, join the lines of a paragraph.
    text = re.sub(r".\x08", "", run.stdout)
    return re.sub(r"\s+", " ", text)


def commands(binary):
    """(path, [long options]) for every command, from ArgumentParser's own description."""
    dump = json.loads(subprocess.run([binary, "--experimental-dump-help"], capture_output=True,
                                     text=True, check=True).stdout)
    out = []

    def walk(command, path):
        longs = [n["name"] for a in command.get("arguments", []) for n in a.get("names", []) if n["kind"] == "long"]
        out.append((path, [o for o in longs if o != "help"]))
        for sub in command.get("subcommands", []):
            walk(sub, path + [sub["commandName"]])
    walk(dump["command"], [])
    return out


def module_options():
    source = open("pam/pam_otpgate.c").read()
    found = re.findall(r'str(?:n)?cmp\(arg, "([a-z_]+=?)"', source)
    if len(found) < 5:
        problems.append(f"pam/pam_otpgate.c: found only {found} in the option parser; has its form changed?")
    return found


def config_keys():
    source = "".join(
        open(f"Sources/OTPGateConfig/{f}.swift").read()
        for f in ["ServerConfig", "StoreSettings", "TierListenerSettings", "RelaySettings"])
    keys = sorted(set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)*)\.([a-z_]+)"', source)))
    # Keys before any table, read as r.string("mode") and the like.
    keys += sorted(("", k) for k in set(re.findall(r'r\.[a-z]+\("([a-z_]+)"\)', source)))
    if len(keys) < 10:
        problems.append(f"ServerConfig.swift: found only {keys}; has its form changed?")
    return keys


def check_all(pages):
    missing = []
    text = {name: render(path) for name, path in pages.items()}
    for path, options in commands(otpgate):
        if path and " ".join(["otpgate"] + path) not in text["otpgate.1"]:
            missing.append(f"otpgate(1) does not mention the command 'otpgate {' '.join(path)}'")
        for option in options:
            if f"--{option}" not in text["otpgate.1"]:
                missing.append(f"otpgate(1) does not mention --{option} of 'otpgate {' '.join(path)}'")
    for _, options in commands(otpgated):
        for option in options:
            if f"--{option}" not in text["otpgated.8"]:
                missing.append(f"otpgated(8) does not mention --{option}")
    for option in module_options():
        if not re.search(r"(?<![a-z_])" + re.escape(option), text["pam_otpgate.8"]):
            missing.append(f"pam_otpgate(8) does not mention the module option {option}")
    sections = re.split(r"(?=\[[a-z_.]+\] )", text["otpgated.toml.5"])
    for table, key in config_keys():
        section = sections[0] if not table else next((s for s in sections if s.startswith(f"[{table}] ")), "")
        if not re.search(r"(?<![a-z_])" + key + r" = ", section):
            missing.append(f"otpgated.toml(5) has no '{key} = ...' under [{table}]")
    return missing


pages = {name: os.path.join(mandir, name) for name in ["otpgate.1", "otpgated.8", "pam_otpgate.8", "otpgated.toml.5"]}
for path in pages.values():
    render(path, width="80")
missing = check_all(pages)
problems += missing

# Controls: drop one documented item from each page; the comparison must notice.
controls = {"otpgate.1": r"--since", "otpgated.8": r"--state-dir", "pam_otpgate.8": r"forward_pass",
            "otpgated.toml.5": r"\*worker_threads\*"}
with tempfile.TemporaryDirectory() as tmp:
    for name, pattern in controls.items():
        source = open(os.path.join("man", name + ".scd")).read()
        cut, n = re.subn(pattern, "*removed*", source)
        if n == 0:
            problems.append(f"control: {pattern} not found in man/{name}.scd")
            continue
        copy = dict(pages)
        copy[name] = os.path.join(tmp, name)
        with open(copy[name], "w") as out:
            subprocess.run(["scdoc"], input=cut, text=True, stdout=out, check=True)
        if not [m for m in check_all(copy) if m not in missing]:
            problems.append(f"control: removing {pattern} from {name} was not noticed")

for p in problems:
    print("check-man: " + p)
if problems:
    sys.exit(1)
print(f"check-man: 4 pages render cleanly; every command, option, module option and config key is documented (controls failed as they must)")
