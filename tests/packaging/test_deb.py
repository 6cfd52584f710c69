"""`make deb` builds a package that installs, runs, removes and purges as the README says.

One test, one lifecycle (build → lintian → install → reconfigure on a "Pi" → remove → purge),
because each step starts from the one before and the build is the costly part (~30 s). It
installs a system package, so it runs only where that is harmless: as root, with the Debian
tools, on a machine without a legtherapy package and without /boot/firmware/config.txt (not a
real Pi). CI (CI=true) is such a machine: there a missing tool fails the test, never skips it.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT_SOURCE = REPO / "systemd" / "legtherapy.service"
TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "lintian": "lintian", "apt-get": "apt",
         "systemd-analyze": "systemd", "make": "make"}
BOOT_CONFIG = Path("/boot/firmware/config.txt")
PI_CONFIG_TEXT = "# a Raspberry Pi OS config.txt\ndtparam=audio=on\n#dtparam=spi=on\n\n[cm4]\notg_mode=1\n"
VENV = Path("/opt/legtherapy/.venv")
CONFIG = Path("/etc/legtherapy/config.toml")
STATE_DIR = Path("/var/lib/legtherapy")
UNIT = Path("/lib/systemd/system/legtherapy.service")
ENABLED = Path("/etc/systemd/system/multi-user.target.wants/legtherapy.service")
ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def sh(*cmd: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def package_state() -> str:
    """dpkg's state of legtherapy: "installed", "config-files" (removed, not purged), or ""."""
    proc = sh("dpkg-query", "-W", "-f=${Status}", "legtherapy", check=False)
    state = proc.stdout.split()[-1] if proc.returncode == 0 and proc.stdout.split() else ""
    return "" if state == "not-installed" else state


def installed() -> bool:
    return package_state() == "installed"


def require_disposable_debian_machine() -> None:
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None}
                     | ({"python3-venv"} if sh("/usr/bin/python3", "-c", "import ensurepip", check=False).returncode
                        else set()))
    problems = []
    if missing:
        problems.append(f"missing tools: apt-get install {' '.join(missing)}")
    if os.geteuid() != 0:
        problems.append("not root: the test installs a system package")
    if package_state():
        problems.append(f"a legtherapy package is here ({package_state()}): the test would replace it")
    if BOOT_CONFIG.exists():
        problems.append(f"{BOOT_CONFIG} exists (a real Pi): the test edits it")
    if problems:
        if os.environ.get("CI"):
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture
def machine():
    """Leaves the machine as it found it: no package, no boot config, no user or groups it made."""
    require_disposable_debian_machine()
    groups_before = {g for g in ("legtherapy", "gpio", "i2c") if group_exists(g)}
    user_before = "legtherapy" in {p.pw_name for p in pwd.getpwall()}
    boot_dir_before = BOOT_CONFIG.parent.exists()
    yield
    if package_state():
        sh("dpkg", "--purge", "legtherapy", check=False)
    BOOT_CONFIG.unlink(missing_ok=True)
    if not boot_dir_before and BOOT_CONFIG.parent.exists():
        shutil.rmtree(BOOT_CONFIG.parent)
    if not user_before:
        sh("deluser", "--system", "legtherapy", check=False)
    for group in ("legtherapy", "gpio", "i2c"):
        if group not in groups_before and group_exists(group):
            sh("delgroup", "--system", group, check=False)


def test_make_deb_installs_runs_removes_and_purges(machine, tmp_path):
    # Build, for this machine's architecture, with the make target the README gives.
    sh("make", "-C", str(REPO), "deb", f"DEB_OUT={tmp_path}", f"DEB_BUILD_DIR={tmp_path / 'build'}", timeout=600)
    debs = list(tmp_path.glob("legtherapy_*.deb"))
    assert len(debs) == 1, debs
    deb = debs[0]
    arch = sh("dpkg", "--print-architecture").stdout.strip()
    assert sh("dpkg-deb", "-f", str(deb), "Architecture").stdout.strip() == arch
    py_minor = sh("/usr/bin/python3", "-c", "import sys; print(sys.version_info[1])").stdout.strip()
    depends = sh("dpkg-deb", "-f", str(deb), "Depends").stdout
    assert f"python3 (>= 3.{py_minor})" in depends and f"python3 (<< 3.{int(py_minor) + 1})" in depends, depends
    assert "python3-venv" in depends and "adduser" in depends

    lint = sh("lintian", "--fail-on", "error", str(deb), check=False)
    errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
    assert lint.returncode == 0 and not errors, lint.stdout + lint.stderr

    # Install: the whole install is this one command. Not on a Pi: config.txt is left alone.
    sh("apt-get", "install", "-y", "--no-install-recommends", str(deb), timeout=600)
    assert installed()
    assert not BOOT_CONFIG.exists() and not BOOT_CONFIG.parent.exists()

    user = pwd.getpwnam("legtherapy")
    assert user.pw_uid < 1000 and user.pw_dir == str(STATE_DIR) and user.pw_shell.endswith("nologin")
    assert grp.getgrgid(user.pw_gid).gr_name == "legtherapy"
    for group in ("gpio", "i2c"):
        assert "legtherapy" in grp.getgrnam(group).gr_mem, group  # the unit's SupplementaryGroups=

    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "legtherapy").stdout
    assert str(CONFIG) in conffiles
    st = CONFIG.stat()
    assert (st.st_uid, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o777) == (0, "legtherapy", 0o640)
    credentials = CONFIG.parent / "credentials"
    assert credentials.is_dir() and credentials.stat().st_mode & 0o777 == 0o700
    assert CONFIG.read_text() == (REPO / "controller" / "boards" / "default.toml").read_text()
    assert STATE_DIR.is_dir() and STATE_DIR.stat().st_uid == user.pw_uid

    assert UNIT.read_bytes() == UNIT_SOURCE.read_bytes()
    assert ENABLED.is_symlink() and ENABLED.resolve() == UNIT.resolve()
    verify = sh("systemd-analyze", "verify", str(UNIT), check=False)
    assert verify.returncode == 0 and "legtherapy" not in verify.stdout + verify.stderr, verify.stderr

    assert "include-system-site-packages = true" in (VENV / "pyvenv.cfg").read_text()  # sees python3-lgpio
    assert "usage: legtherapy" in sh(str(VENV / "bin" / "legtherapy"), "--help").stdout
    assert "usage: legctl" in sh(str(VENV / "bin" / "legctl"), "--help").stdout
    # The service user reads its config and runs the installed code.
    programs = sh("runuser", "-u", "legtherapy", "--", str(VENV / "bin" / "legtherapy"), "programs",
                  "--config", str(CONFIG))
    assert "quick_circulation" in programs.stdout

    # On a Pi: the boot settings go in one marked block at the end, once however often it runs.
    BOOT_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    BOOT_CONFIG.write_text(PI_CONFIG_TEXT)
    block = Path("/usr/share/legtherapy/boot-config.txt").read_text()
    assert "gpio=9-13,16-20,22-27=op,dl" in block.splitlines()
    sh("dpkg-reconfigure", "legtherapy")
    assert BOOT_CONFIG.read_text() == PI_CONFIG_TEXT + block
    sh("dpkg-reconfigure", "legtherapy")
    assert BOOT_CONFIG.read_text() == PI_CONFIG_TEXT + block
    assert (VENV / "bin" / "legtherapy").exists()

    # Remove: the state (fault log, lockout) and the edited config stay; the code goes.
    (STATE_DIR / "faults.jsonl").write_text('{"code": "over_temperature"}\n')
    CONFIG.write_text(CONFIG.read_text() + "# edited by the technician\n")
    sh("apt-get", "remove", "-y", "legtherapy")
    assert not installed()
    assert not Path("/opt/legtherapy").exists() and not UNIT.exists()
    assert (STATE_DIR / "faults.jsonl").read_text() == '{"code": "over_temperature"}\n'
    assert CONFIG.read_text().endswith("# edited by the technician\n")
    assert BOOT_CONFIG.read_text() == PI_CONFIG_TEXT + block
    pwd.getpwnam("legtherapy")  # system users stay, as Debian does

    # Purge: state, config, boot block and the enablement go; config.txt is as it was.
    sh("apt-get", "purge", "-y", "legtherapy")
    assert package_state() == ""
    assert not STATE_DIR.exists() and not CONFIG.parent.exists()
    assert not ENABLED.is_symlink()
    assert "legtherapy" not in sh("dpkg-statoverride", "--list").stdout
    assert BOOT_CONFIG.read_text() == PI_CONFIG_TEXT
