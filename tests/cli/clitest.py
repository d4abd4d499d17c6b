"""The cli suite's fixtures: smartrag-cli run against the integration harness's daemon."""

import json
import os
import subprocess

import harness

CLI = os.environ.get("SMARTRAG_CLI", "")
# The build tree's compiled translations, for the German checks.
LOCALEDIR = os.environ.get("SMARTRAG_LOCALEDIR", "")

EXIT_USAGE = 1
EXIT_UNREACHABLE = 2
EXIT_DOCUMENT = 3
EXIT_NOT_FOUND = 4
EXIT_DENIED = 5
EXIT_REFUSED = 6
EXIT_BACKEND = 8
EXIT_INTERRUPTED = 130


class Result:
    def __init__(self, completed):
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


class CliTest(harness.IntegrationTest):
    """A daemon per test on the class's private bus; smartrag-cli reaches it by --address."""

    daemon_config = {}
    start_daemon_in_setup = True

    def setUp(self):
        if not CLI or not os.access(CLI, os.X_OK):
            self.skipTest("SMARTRAG_CLI does not name the smartrag-cli binary")
        super().setUp()
        self.smartragd = (self.start_daemon(**self.daemon_config)
                          if self.start_daemon_in_setup else None)

    def cli_env(self, **extra):
        env = harness.minimal_env(LC_ALL="C.UTF-8", G_DEBUG="fatal-criticals", **extra)
        if LOCALEDIR:
            env["SMARTRAG_LOCALEDIR"] = LOCALEDIR
        return env

    def argv(self, args, account=None, address=None):
        argv = [CLI, *args, f"--address={address or self.bus.address}"]
        return account.wrap(argv) if account is not None else argv

    def cli(self, *args, account=None, address=None, env=None, timeout=30, cwd=None):
        """Runs smartrag-cli to its end; stdin is not a terminal, so no password prompts."""
        env = env or self.cli_env()
        if account is not None:
            env = dict(env, GCOV_PREFIX=self.counters_dir())
        completed = subprocess.run(self.argv(args, account, address), capture_output=True,
                                   text=True, timeout=timeout, env=env,
                                   stdin=subprocess.DEVNULL, cwd=cwd or self.workdir)
        return Result(completed)

    def counters_dir(self):
        """Where a coverage build run as another uid writes its counters: that uid cannot
        write the build's, and the runtime would say so on stderr, which the tests read."""
        path = os.path.join(self.workdir, "coverage-of-other-uids")
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o1777)
        return path

    def spawn(self, *args, env=None):
        """smartrag-cli running in the background, its output in pipes."""
        return subprocess.Popen(self.argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env or self.cli_env(),
                                cwd=self.workdir)

    def ok(self, *args, **kwargs):
        result = self.cli(*args, **kwargs)
        self.assertEqual(result.code, 0, result)
        self.assertEqual(result.err, "", result)
        return result

    def fails(self, code, *args, contains=(), **kwargs):
        """smartrag-cli exits with @code and one line on stderr holding @contains."""
        result = self.cli(*args, **kwargs)
        self.assertEqual(result.code, code, result)
        lines = result.err.splitlines()
        self.assertTrue(lines, result)
        self.assertTrue(lines[0].startswith("smartrag-cli: "), result)
        for text in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(text, result.err)
        return result

    def write(self, name, data, mode=0o644):
        path = os.path.join(self.workdir, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def new_session(self, title="Tests", **kwargs):
        session = self.ok("sessions", "create", "--title", title, **kwargs).out.strip()
        self.assertRegex(session, harness.ID_PATTERN)
        return session


def main():
    harness.main()
